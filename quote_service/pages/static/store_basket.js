// The basket: lines of {product, quantity, price, offer} in one currency, drawn in the right-hand column
// with an exact goods estimate. `price` is the display price the product's card showed when it was
// added (POST /api/v1/prices): the basket's currency is the one the shopper chose the prices in.
// `offer` is the seller the shopper picked on the card (docs/offers.md), whose price the line then
// counts and whose offer the quote names. Whoever holds a quote of it listens for changes (the
// quote then no longer describes the basket).
import { $, say, sum, times } from "./store_ui.js";
import { onSellerPicked, pickedOffer } from "./store_sellers.js";

const { el, money } = QS;
export const MAX_QUANTITY = 99;
const lines = new Map(); // product id -> {product, quantity, price, offer}
const listeners = [];

export function onBasketChange(listener) { listeners.push(listener); }
export function basketLines() { return [...lines.values()]; }
export function basketCurrency() { const first = lines.values().next().value; return first ? first.price.currency : null; }
export function quantityOf(productId) { return lines.has(productId) ? lines.get(productId).quantity : 0; }

function changed() { draw(); for (const listener of listeners) listener(); }

// Adds `quantity` units at `price` (the card's display price); null when done, else why not (in
// words, for the product's card).
export function addToBasket(product, quantity, price) {
  const currency = basketCurrency();
  if (currency && currency !== price.currency)
    return `Your basket is in ${currency} and this price is in ${price.currency}: show prices in ${currency}, or order the basket first.`;
  const now = quantityOf(product.id);
  if (now + quantity > MAX_QUANTITY) return `At most ${MAX_QUANTITY} of one product per basket (you have ${now}).`;
  lines.set(product.id, { product, quantity: now + quantity, price, offer: pickedOffer(product.id) });
  changed(); // told on the product's card, where the shopper added it
  return null;
}

// Another seller picked for a line: it counts that seller's price (the quote, told too, drops itself).
onSellerPicked(productId => {
  const line = lines.get(productId);
  if (!line) return;
  line.offer = pickedOffer(productId);
  draw();
});

export function clearBasket() { lines.clear(); changed(); }

function setQuantity(line, input) {
  const quantity = Number(input.value);
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) {
    say($("basket-message"), `Enter a quantity from 1 to ${MAX_QUANTITY} for ${line.product.name}.`, "error");
    input.value = line.quantity;
    return;
  }
  if (quantity === line.quantity) return;
  line.quantity = quantity;
  changed();
  say($("basket-message"), `${line.product.name}: ${quantity} in your basket.`, "ok");
}

function remove(line) {
  lines.delete(line.product.id);
  changed();
  say($("basket-message"), `${line.product.name} removed from the basket.`, "ok");
  $("get-quote").focus(); // the removed line's button is gone: keep the keyboard in the basket
}

// A picked seller's price is in its product's currency: in another, only the quote can price it (null).
function unitPrice({ price, offer }) {
  if (!offer) return price.list_price;
  return offer.currency === price.currency ? offer.unit_price : null;
}
function goodsOf(line) {
  const unit = unitPrice(line);
  return unit === null ? null : times(unit, line.quantity);
}
const shown = (goods, currency) => (goods === null ? "on the quote" : money(goods, currency));

function lineItem(line) {
  const { product, quantity, price, offer } = line;
  const input = el("input", { type: "number", min: 1, max: MAX_QUANTITY, value: quantity, "aria-label": `Quantity of ${product.name}` });
  input.addEventListener("change", () => setQuantity(line, input));
  return el("li", { class: "basket-line", "data-id": product.id, "data-seller": offer ? offer.seller_id : "" },
    el("span", { class: "name", title: product.name }, product.name, offer ? el("span", { class: "muted" }, ` from ${offer.seller_id}`) : ""),
    input,
    el("span", { class: "amount" }, shown(goodsOf(line), price.currency)),
    el("button", { type: "button", class: "secondary", "aria-label": "Remove " + product.name, onclick: () => remove(line) }, "Remove"));
}

export function draw() {
  const items = basketLines();
  const units = items.reduce((n, line) => n + line.quantity, 0);
  $("to-basket").textContent = units ? `Basket: ${units} item${units === 1 ? "" : "s"}` : "Basket: empty";
  if (!items.length) {
    $("basket").replaceChildren(el("li", { class: "muted" }, "The basket is empty."));
    return;
  }
  const parts = items.map(goodsOf);
  const goods = parts.includes(null) ? null : sum(parts);
  $("basket").replaceChildren(...items.map(lineItem),
    el("li", { class: "basket-total" }, el("span", {}, "Goods at list prices"), el("span", { id: "basket-goods" }, shown(goods, basketCurrency()))));
}
