// Flash sales on the product cards: the flash price with a countdown (to its start, or to its
// end with the units left and how many more this shopper may buy), and buying at that price.
// A refusal is read again from the sale before it is told, so its words match the sale now.
import { everySecond, say } from "./store_ui.js";
import { flashRefusal, trouble } from "./store_words.js";

const { api, el, money, clock, countdown, uuid } = QS;
const offers = new Map(); // product id -> {sale, item}: the active sale's, else a scheduled one's
const mine = new Map();   // sale id -> Map(product id -> {purchased, remaining_limit})
const slots = new Map();  // product id -> {node, product, quantity, message}: the cards showing an offer
let nextChange = Infinity; // when a shown sale starts or ends: then the offers are read again
let onBought = () => {};

// Called after a purchase (it joins the shopper's orders).
export function onPurchase(listener) { onBought = listener; }

export async function loadOffers() {
  const [active, scheduled] = await Promise.all(["active", "scheduled"].map(
    status => api("GET", `/api/v1/flash-sales?status=${status}&limit=100`)));
  offers.clear();
  nextChange = Infinity;
  for (const sale of [...scheduled.items, ...active.items]) { // an active sale's offer wins
    for (const item of sale.items) offers.set(item.product_id, { sale, item });
    nextChange = Math.min(nextChange, Date.parse(sale.status === "active" ? sale.ends_at : sale.starts_at));
  }
  await Promise.all(active.items.map(loadMine));
  for (const productId of slots.keys()) render(productId);
}

async function loadMine(sale) {
  const page = await api("GET", `/api/v1/flash-sales/${sale.id}/purchases/me`);
  mine.set(sale.id, new Map(page.items.map(entry => [entry.product_id, entry])));
}

function myCount(sale, item) {
  const entry = mine.has(sale.id) && mine.get(sale.id).get(item.product_id);
  return entry || { purchased: 0, remaining_limit: item.per_user_limit };
}

// The node a product card shows its offer in (empty when none); kept up to date from here on.
export function offerSlot(product, quantity, message) {
  const node = el("div", { class: "flash-offer" });
  slots.set(product.id, { node, product, quantity, message });
  render(product.id);
  return node;
}

export function forgetSlots() { slots.clear(); }

function render(productId) {
  const slot = slots.get(productId);
  const offer = offers.get(productId);
  const hadFocus = slot.node.contains(document.activeElement);
  if (!offer) { slot.node.replaceChildren(); return; }
  const { sale, item } = offer;
  const price = money(item.flash_price, item.currency);
  if (sale.status !== "active") {
    slot.node.replaceChildren(el("p", { class: "flash" }, `Flash sale at ${clock(sale.starts_at)}: `, el("strong", {}, price), " · starts in ",
      el("span", { class: "countdown", "data-until": sale.starts_at }, countdown(sale.starts_at))));
    return;
  }
  const { remaining_limit: more } = myCount(sale, item);
  const left = item.remaining_stock;
  // Sold out leaves nothing to buy, whatever this shopper's limit; else never more than is left.
  const state = left === 0 ? "sold out"
    : `${left} left · ${more === 0 ? "you have bought your limit" : `you may buy ${Math.min(more, left)} more`}`;
  const button = el("button", { type: "button", class: "flash-buy", onclick: () => buy(slot, offer, button) }, `Buy now at ${price}`);
  button.disabled = left === 0 || more === 0;
  slot.node.replaceChildren(
    el("p", { class: "flash" }, "Flash price ", el("strong", {}, price), " · ends in ",
      el("span", { class: "countdown", "data-until": sale.ends_at }, countdown(sale.ends_at)), ` · ${state}`),
    button);
  if (hadFocus) button.focus(); // redrawn under the keyboard: keep its place
}

// The sale, its item and this shopper's counts as they are now (after a refusal).
async function fresh(offer) {
  try {
    const sale = await api("GET", `/api/v1/flash-sales/${offer.sale.id}`);
    const item = sale.items.find(i => i.product_id === offer.item.product_id) || offer.item;
    if (sale.status === "active") await loadMine(sale);
    return { sale, item, mine: myCount(sale, item) };
  } catch (_) {
    return { ...offer, mine: myCount(offer.sale, offer.item) };
  }
}

// What the purchase charged besides its goods, as its order did (a purchase is priced as a one-line
// quote: the tax the card's "+ tax" promised, and the fees a quote delivering nowhere in particular
// pays): ", with 28.80 tax and 10.00 delivery"; a tax-inclusive price says the tax it holds.
function charges(bought) {
  const parts = [];
  if (Number(bought.tax_amount) > 0) parts.push(`${bought.tax_amount} tax`);
  if (Number(bought.delivery_fee) > 0) parts.push(`${bought.delivery_fee} delivery`);
  if (Number(bought.small_basket_fee) > 0) parts.push(`a ${bought.small_basket_fee} small-basket fee`);
  const last = parts.pop();
  const added = last ? `, with ${parts.length ? `${parts.join(", ")} and ` : ""}${last}` : "";
  return added + (Number(bought.tax_included || 0) > 0 ? `; the price includes ${bought.tax_included} tax` : "");
}

async function buy(slot, offer, button) {
  const quantity = Number(slot.quantity.value);
  if (!Number.isInteger(quantity) || quantity < 1) { say(slot.message, "Enter how many to buy (1 or more).", "error"); return; }
  button.disabled = true;
  const { product } = slot;
  try {
    const bought = await api("POST", `/api/v1/flash-sales/${offer.sale.id}/purchases`,
      { product_id: product.id, quantity, expected_unit_price: offer.item.flash_price }, { "Idempotency-Key": uuid() });
    say(slot.message, `Bought ${bought.quantity} × ${product.name} at ${money(bought.unit_price, bought.currency)}: `
      + `${money(bought.total, bought.currency)} in all${charges(bought)}.`, "ok");
    onBought();
  } catch (error) {
    const now = error.code ? await fresh(offer) : null;
    say(slot.message, now ? flashRefusal(error, { quantity, ...now }) : `Not bought: ${trouble(error)}`, "error");
  }
  await loadOffers().catch(() => {}); // redraws the offer: left, your limit, the button
  button.disabled = false;
}

everySecond(now => { if (now >= nextChange) { nextChange = Infinity; loadOffers().catch(() => {}); } });
