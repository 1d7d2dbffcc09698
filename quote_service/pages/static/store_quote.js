// The quote of the basket with its breakdown (lines with their price source, promotions,
// coupons, tax, fees) and the steps to a better total under the basket (store_hints.js), the checkout that holds the basket's stock until the quote expires
// (a countdown; released on "Leave the checkout", when the basket changes, or when the shopper
// leaves the page), and the order.
import { $, CHANNEL, everySecond, nameOf, say } from "./store_ui.js";
import { basketCurrency, basketLines, clearBasket, onBasketChange } from "./store_basket.js";
import { COUPON_REASONS, orderRefusal, quoteRefusal, trouble } from "./store_words.js";
import { drawInstallments, installmentChoice } from "./store_installments.js";
import { drawParcels, shippingChoices } from "./store_parcels.js";
import { drawHints } from "./store_hints.js";
import { onSellerPicked } from "./store_sellers.js";

const { api, el, money, clock, countdown } = QS;
const SOURCES = { flash_sale: "flash price", price_list: "your price list", gift: "gift" };
// A rule's effect as a shopper reads it: "−9.60 TRY" with a real minus, "+12.00 TRY".
const effect = (amount, c) => (String(amount).startsWith("-") ? "−" + money(String(amount).slice(1), c) : "+" + money(amount, c));
let me = null;
let quote = null; // the quote shown: it describes the basket as it is now, or it is gone
let onOrdered = () => {};

export function startQuotes(user, ordered) { me = user; onOrdered = ordered; }

const tell = (text, kind) => say($("quote-message"), text, kind);

function lineRow(line, c) {
  const name = nameOf(line.product_id);
  const notes = [];
  if (SOURCES[line.price_source]) notes.push(el("span", { class: "badge " + line.price_source }, SOURCES[line.price_source]));
  for (const rule of line.applied_rules || []) notes.push(el("span", { class: "rule" }, `${rule.name} ${effect(rule.amount, c)}`));
  const listed = line.list_unit_price !== line.unit_price;
  const unit = line.is_gift ? ["free"]
    : listed ? [el("s", { title: "list price" }, money(line.list_unit_price)), " ", money(line.unit_price)] : [money(line.unit_price)];
  return el("tr", line.is_gift ? { class: "gift-line" } : {},
    el("td", { class: "wrap", title: name }, name, notes.length ? el("span", { class: "note" }, ...notes) : ""),
    el("td", { class: "num", title: String(line.quantity) }, String(line.quantity)),
    el("td", { class: "num wrap", title: listed ? `list ${line.list_unit_price}, yours ${line.unit_price}` : line.unit_price }, ...unit),
    el("td", { class: "num", title: line.line_subtotal }, money(line.line_subtotal)));
}

function row(label, value, cls, attrs) {
  return el("tr", { class: cls || "", ...(attrs || {}) }, el("th", { scope: "row", class: "wrap" }, label), el("td", {}, value));
}

function totals(qt) {
  const c = qt.currency;
  const freeDelivery = qt.applied_promotions.filter(p => p.kind === "FREE_DELIVERY");
  const rows = [row("Subtotal", money(qt.subtotal, c))];
  if (Number(qt.discount_amount) > 0) rows.push(row("Discounts", `−${money(qt.discount_amount, c)}`, "minus"));
  // The parts of the discount, each under it: a promotion or a coupon and what it took off.
  // A bundle's row says it is a bundle price; a gift's line is in the basket above (0.00), named here too.
  const PARTS = { FIXED_PRICE_BUNDLE: "Bundle price" };
  for (const p of qt.applied_promotions.filter(p => p.kind !== "FREE_DELIVERY" && p.kind !== "GIFT"))
    rows.push(row(`${PARTS[p.kind] || "Promotion"}: ${p.name}`, `−${money(p.amount, c)}`, "part minus promotion"));
  for (const p of qt.applied_promotions.filter(p => p.kind === "GIFT")) rows.push(row(`Gift: ${p.name}`, "free", "part gift"));
  for (const cp of qt.applied_coupons) rows.push(row(`Coupon ${cp.code}`, `−${money(cp.amount, c)}`, "part minus coupon-applied"));
  for (const cp of qt.rejected_coupons)
    rows.push(row(`${cp.code} not applied: ${COUPON_REASONS[cp.reason] || cp.reason}`, "", "part coupon-rejected"));
  // Tax added to net prices; the tax tax-inclusive prices hold is in the subtotal already, said under it.
  const included = Number(qt.tax_included || 0) > 0;
  if (!included || Number(qt.tax_amount) > 0) rows.push(row("Tax", money(qt.tax_amount, c)));
  if (included) rows.push(row("Tax included in the prices", money(qt.tax_included, c), "part tax-included"));
  rows.push(row(freeDelivery.length ? `Delivery (free: ${freeDelivery[0].name})` : "Delivery", money(qt.delivery_fee, c)));
  if (Number(qt.small_basket_fee) > 0) rows.push(row("Small-basket fee", money(qt.small_basket_fee, c)));
  rows.push(row("Total", el("span", { id: "quote-total", "data-amount": qt.total_amount }, money(qt.total_amount, c)), "total"));
  return el("table", { class: "totals" }, el("tbody", {}, ...rows));
}

// The totals and the quote's validity in #quote, above the checkout buttons; the lines (each
// product's price, its rules and source) below them, in #quote-lines.
function draw(qt) {
  const c = qt.currency;
  const lines = el("table", { class: "fit lines" },
    el("thead", {}, el("tr", {}, el("th", {}, "Product"), el("th", { class: "num qty-col" }, "Qty"),
      el("th", { class: "num amount-col", title: `Unit price (${c})` }, `Unit (${c})`),
      el("th", { class: "num amount-col", title: `Line total (${c})` }, `Line (${c})`))),
    el("tbody", {}, ...qt.items.map(line => lineRow(line, c))));
  $("quote").replaceChildren(totals(qt),
    el("p", { class: "muted" }, "Valid for ", el("span", { class: "countdown", "data-until": qt.valid_until }, countdown(qt.valid_until)),
      ` (until ${clock(qt.valid_until, true)}).`));
  $("quote-lines").replaceChildren(el("h3", {}, "Line by line"), lines);
  drawParcels(qt, () => getQuote());
  drawHints(qt);
  drawInstallments(qt, () => getQuote());
  drawHold(qt.reservation);
  $("place-order").hidden = false;
}

function drawHold(held) {
  const node = $("reservation");
  node.hidden = !held;
  $("checkout").hidden = Boolean(held) || !quote;
  $("leave-checkout").hidden = !held;
  if (!held) { node.replaceChildren(); return; }
  const what = held.lines.map(l => `${l.quantity} × ${nameOf(l.product_id)}`).join(", ");
  node.replaceChildren(
    el("p", {}, el("strong", {}, "Held for you: "), what),
    el("p", {}, `Held until ${clock(held.expires_at, true)} (`,
      el("span", { class: "countdown", "data-until": held.expires_at }, countdown(held.expires_at)), " left)."));
}

function forget(text, kind) {
  quote = null;
  $("quote").replaceChildren(el("p", { class: "muted" }, "Ask for a quote of your basket."));
  $("quote-lines").replaceChildren();
  drawParcels(null);
  drawHints(null);
  drawInstallments(null);
  drawHold(null);
  $("place-order").hidden = true;
  $("checkout").hidden = true;
  if (text) tell(text, kind);
}

async function ask(reserve) {
  const lines = basketLines();
  const coupons = $("coupons").value.split(/[\s,]+/).filter(Boolean);
  try {
    return await api("POST", "/api/v1/quote", {
      customer_id: me.id, currency: basketCurrency(), channel: CHANNEL, coupon_codes: coupons, reserve_stock: reserve, hints: true,
      shipping: shippingChoices(), ...installmentChoice(),
      delivery_address: { city: $("city").value.trim(), country: $("country").value.trim().toUpperCase() },
      // docs/offers.md: the offer the shopper picked (the product's own seller by its seller_id), else the best landed one.
      items: lines.map(({ product, quantity, offer }) => ({ product_id: product.id, quantity,
        ...(offer ? (offer.offer_id ? { offer_id: offer.offer_id } : { seller_id: offer.seller_id }) : {}) })),
    });
  } catch (error) {
    tell((reserve ? "Checkout refused: " : "No quote: ") + quoteRefusal(error, lines), "error");
    return null;
  }
}

async function busy(button, work) {
  button.disabled = true;
  try { await work(); } finally { button.disabled = false; }
}

async function getQuote(event) {
  if (event) event.preventDefault();
  if (!basketLines().length) { tell("Add a product to the basket first.", "error"); return; }
  await busy($("get-quote"), async () => {
    await release("");
    const answer = await ask(false);
    if (!answer) return;
    quote = answer;
    draw(quote);
    tell("Quote ready. Go to checkout to hold the items while you decide, or place the order.", "ok");
  });
}

// Quoting again with reserve_stock holds the basket's units until the quote expires, so the
// order cannot fail for stock.
async function checkout() {
  await busy($("checkout"), async () => {
    const answer = await ask(true);
    if (!answer) return;
    quote = answer;
    draw(quote);
    tell("Your items are held for you while you check out.", "ok");
  });
}

// Gives the held units back (if any); `text` says so next to the quote.
async function release(text, keepalive = false) {
  if (!quote || !quote.reservation) return;
  const id = quote.quote_id;
  quote = { ...quote, reservation: null };
  drawHold(null);
  try {
    await api("DELETE", `/api/v1/quotes/${id}/reservation`, undefined, undefined, keepalive);
    if (text) tell(text, "ok");
  } catch (error) {
    if (!keepalive) tell(`Could not release the held items: ${trouble(error)}`, "error");
  }
}

async function order() {
  if (!quote) return;
  const placed = quote;
  await busy($("place-order"), async () => {
    try {
      // One key per quote: a double click, or a retry after a lost answer, orders it once.
      const made = await api("POST", "/api/v1/orders", { quote_id: placed.quote_id }, { "Idempotency-Key": `store-order-${placed.quote_id}` });
      forget();
      clearBasket();
      tell(`Thank you: order placed, ${money(made.total_amount, made.currency)}. You can cancel it under Your orders for a while.`, "ok");
      onOrdered();
    } catch (error) {
      tell(`The order was refused: ${orderRefusal(error)}`, "error");
      if (error.code === "QUOTE_EXPIRED") forget();
    }
  });
}

// A change of the basket makes the quote describe another basket: drop it (and its hold).
onBasketChange(() => {
  if (!quote) return;
  const held = Boolean(quote.reservation);
  release("");
  forget(held ? "The basket changed, so its held items were released: ask for a new quote." : "The basket changed: ask for a new quote.");
});
// Another seller picked for a product of the basket (docs/offers.md): the quote no longer describes it either.
onSellerPicked(productId => {
  if (!quote || !basketLines().some(line => line.product.id === productId)) return;
  const held = Boolean(quote.reservation);
  release("");
  forget(held ? "You picked another seller, so the held items were released: ask for a new quote." : "You picked another seller: ask for a new quote.");
});

everySecond(now => {
  if (quote && now >= Date.parse(quote.valid_until)) {
    const held = Boolean(quote.reservation);
    forget(held ? "Your hold and your quote have expired: ask for a new quote." : "Your quote has expired: ask for a new one.", "error");
  }
});

// Leaving the page gives the held units back at once rather than when the quote expires.
window.addEventListener("pagehide", () => { release("", true); });

$("quote-form").addEventListener("submit", getQuote);
$("card-form").addEventListener("submit", getQuote);
$("checkout").addEventListener("click", checkout);
$("place-order").addEventListener("click", order);
$("leave-checkout").addEventListener("click", () => busy($("leave-checkout"), () => release("You left the checkout: your held items were released.")));
