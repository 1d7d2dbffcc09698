// "Other sellers" on a product's card (docs/offers.md): GET /api/v1/products/{id}/offers for the
// delivery address and the quantity on the card, ranked by landed price (price x quantity + that
// seller's delivery for it alone). The shopper may pick one: the quote then names its seller for
// that product; unpicked, the quote takes the best landed offer itself. Only a product that other
// sellers offer has the button: the product list tells which (`offer_count`, absent when none).
import { $, say } from "./store_ui.js";

const { api, el, money } = QS;
const picked = new Map(); // product id -> the offer the shopper picked (a line of GET /products/{id}/offers)
const listeners = [];

export function pickedOffer(productId) { return picked.get(productId) || null; }
export function onSellerPicked(listener) { listeners.push(listener); }

function pick(product, offer, list, message) {
  picked.set(product.id, offer);
  for (const row of list.querySelectorAll("li")) row.classList.toggle("picked", row.dataset.seller === offer.seller_id);
  say(message, `Sold by ${offer.seller_id} in your basket's quote.`, "ok");
  for (const listener of listeners) listener(product.id);
}

function row(product, offer, list, message) {
  const c = offer.currency;
  const eta = offer.eta_days_max == null ? "" : ` · ${offer.eta_days_min}-${offer.eta_days_max} days`;
  const what = `${offer.seller_id}${offer.is_default ? "" : ` (${offer.condition})`}: ${money(offer.unit_price, c)} + `
    + `${money(offer.delivery_fee, c)} delivery = ${money(offer.landed_price, c)}${eta}`;
  const item = el("li", { class: "seller-offer", "data-seller": offer.seller_id }, el("span", {}, what), " ",
    el("button", { type: "button", class: "secondary", onclick: () => pick(product, offer, list, message) }, "Pick"));
  if (pickedOffer(product.id)?.seller_id === offer.seller_id) item.classList.add("picked");
  return item;
}

// The button and list a card shows under its price; nothing for a product nobody else sells.
export function sellersSlot(product, quantity, message) {
  if (!product.offer_count) return "";
  const list = el("ul", { class: "other-sellers", "aria-label": `Sellers of ${product.name}` });
  const show = el("button", { type: "button", class: "secondary other-sellers-button", onclick: async () => {
    const city = encodeURIComponent($("city").value.trim() || "Istanbul");
    const country = encodeURIComponent(($("country").value.trim() || "TR").toUpperCase());
    const wanted = Math.max(1, Number(quantity.value) || 1);
    try {
      const offers = await api("GET", `/api/v1/products/${product.id}/offers?city=${city}&country=${country}&quantity=${wanted}`);
      list.replaceChildren(...offers.map(offer => row(product, offer, list, message)));
      if (offers.length <= 1) say(message, offers.length ? `Only ${offers[0].seller_id} sells it.` : "Nobody has that many in stock.");
    } catch (error) {
      say(message, error.message, "error");
    }
  } }, "Other sellers");
  return el("div", { class: "sellers" }, show, list);
}
