// Installments at checkout (docs/taxes.md#installments): under a quote, the card's first digits ask for it
// again with the ways to pay in parts, who pays the interest and what each part costs; the shopper picks
// one and the quote is asked again with it. A quote without card digits lists none.
import { $ } from "./store_ui.js";

const { el, money } = QS;
let picked; // the count of installments the shopper chose, or undefined

// The request's `card_bin` and `installments` (each left out of the JSON when not given).
export function installmentChoice() {
  const bin = $("card-bin").value.replace(/\D/g, "");
  if (bin.length < 6) { picked = undefined; return {}; }
  return { card_bin: bin.slice(0, 8), installments: picked };
}

const WHO = { customer: "with interest", seller: "interest-free (the seller pays)", platform: "interest-free" };

function option(o, c, chosen, requote) {
  const id = `taksit-${o.count}`;
  const input = el("input", { type: "radio", name: "taksit", id, value: String(o.count), checked: o.count === chosen });
  input.addEventListener("change", () => { picked = o.count; requote(); });
  const parts = o.installment_amount === o.first_installment_amount
    ? `${o.count} × ${money(o.installment_amount, c)}`
    : `${money(o.first_installment_amount, c)} + ${o.count - 1} × ${money(o.installment_amount, c)}`;
  return el("label", { for: id, class: "option", "data-count": String(o.count) }, input,
    ` ${o.count} installments, ${WHO[o.funded_by]}: ${parts} = `, el("span", { class: "fee" }, money(o.total_payable, c)));
}

// Draws the quote's installment options (`qt` null: the card form hidden too); `requote` asks again.
export function drawInstallments(qt, requote) {
  $("installments").hidden = !qt;
  const node = $("quote-installments");
  const options = qt && qt.installment_options;
  if (!options) { node.replaceChildren(); return; }
  if (!options.length) { node.replaceChildren(el("p", { class: "muted" }, "No installments for this card and total.")); return; }
  const chosen = qt.installment ? qt.installment.count : undefined;
  node.replaceChildren(el("fieldset", { class: "options" }, el("legend", {}, "Pay in installments"),
    ...options.map(o => option(o, qt.currency, chosen, requote))));
}
