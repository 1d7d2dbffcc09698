// The next cheapest steps to a better total (docs/promotions.md#hints), under the basket: the quote
// is asked with `hints: true` and each step it names is shown in the shopper's words, with its
// saving ("Add 30.00 TRY for 10 % off: you save 10.00 TRY"). A quote without steps shows none.
import { $ } from "./store_ui.js";

const { el, money } = QS;

// "add 30.00 for 10 % off" -> "Add 30.00 TRY for 10 % off": the amount in the currency's words.
function words(hint, c) {
  const head = `add ${hint.add_amount}`;
  const rest = hint.message.startsWith(head) ? hint.message.slice(head.length) : ` — ${hint.message}`;
  return `Add ${money(hint.add_amount, c)}${rest}`;
}

// Draws the quote's hints under the basket (`qt` null, or none: the list is hidden).
export function drawHints(qt) {
  const node = $("basket-hints");
  const hints = (qt && qt.hints) || [];
  node.hidden = !hints.length;
  node.replaceChildren(...hints.map(h => el("li", { class: "hint", "data-kind": h.kind },
    words(h, qt.currency), el("span", { class: "saves" }, `: you save ${money(h.saves, qt.currency)}`))));
}
