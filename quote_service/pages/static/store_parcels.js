// Each seller's parcel in the quote (docs/shipping.md): what it holds, its delivery options with
// their fees and delivery times (the shopper picks one: the quote is asked again with it), and how
// much more from that seller makes its delivery free. A quote without shipments shows none.
import { $, nameOf } from "./store_ui.js";

const { el, money } = QS;
const chosen = new Map(); // seller -> the option code the shopper picked

// The request's `shipping`, or undefined (left out of the JSON) when nothing was picked.
export function shippingChoices() { return chosen.size ? Object.fromEntries(chosen) : undefined; }

const days = o => (o.eta_days_min === o.eta_days_max
  ? `${o.eta_days_max} day${o.eta_days_max === 1 ? "" : "s"}` : `${o.eta_days_min}–${o.eta_days_max} days`);

function option(s, o, c, requote) {
  const id = `ship-${s.seller_id}-${o.code}`;
  const input = el("input", { type: "radio", name: `ship-${s.seller_id}`, id, value: o.code, checked: o.code === s.selected });
  input.addEventListener("change", () => { chosen.set(s.seller_id, o.code); requote(); });
  return el("label", { for: id, class: "option", "data-code": o.code }, input,
    ` ${o.name}: `, el("span", { class: "fee" }, o.free ? "free" : money(o.fee, c)), `, ${days(o)}`);
}

function parcel(s, c, requote) {
  const from = s.seller_id || "the shop";
  const held = s.product_ids.map(nameOf).join(", ");
  const delivery = s.options.length
    ? el("fieldset", { class: "options" }, el("legend", {}, "Delivery"), ...s.options.map(o => option(s, o, c, requote)))
    : el("p", { class: "muted" }, `Delivery ${money(s.delivery_fee, c)}`);
  const more = Number(s.free_delivery_remaining) > 0
    ? el("p", { class: "hint free-hint" }, `Add ${money(s.free_delivery_remaining, c)} more from ${from} for free delivery.`)
    : "";
  return el("section", { class: "parcel", "data-seller": s.seller_id || "" },
    el("h4", {}, `Parcel from ${from}`), el("p", { class: "muted wrap" }, held), delivery, more);
}

// Draws the quote's parcels under its totals (`qt` null: none); `requote` asks for the quote again.
export function drawParcels(qt, requote) {
  const node = $("quote-parcels");
  node.hidden = !(qt && qt.shipments);
  if (node.hidden) { node.replaceChildren(); return; }
  node.replaceChildren(el("h3", {}, "Your parcels"), ...qt.shipments.map(s => parcel(s, qt.currency, requote)));
}
