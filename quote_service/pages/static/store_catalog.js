// The catalog: products in the storefront's order (GET /api/v1/products?sort=catalog: the real
// catalog before generated products, by category and name), searched and filtered on the
// server, a page at a time ("Show more products").
import { $, CHANNEL, remember, say } from "./store_ui.js";
import { MAX_QUANTITY, addToBasket, onBasketChange, quantityOf } from "./store_basket.js";
import { forgetSlots, offerSlot } from "./store_flash.js";
import { sellersSlot } from "./store_sellers.js";
import { trouble } from "./store_words.js";

const { api, el, money } = QS;
const PAGE_SIZE = 24;
const FEW_LEFT = 5;
let cursor = null;
let shown = 0;
let search = 0; // the latest search: an older one answering late is dropped
const basketNotes = new Map(); // product id -> its card's message about the basket, kept true
// Product id -> a promise of its card's display price in the chosen currency: {item}, or {refusal}
// in words. "Add to basket" waits for it: the basket takes the price the card shows.
const prices = new Map();

// The basket changed (a quantity, a removal, an order): the cards that spoke of it say so.
onBasketChange(() => {
  for (const [productId, node] of basketNotes) {
    const count = quantityOf(productId);
    say(node, count ? `In your basket: ${count}.` : "", count ? "ok" : undefined);
    if (!count || !node.isConnected) basketNotes.delete(productId);
  }
});

function stockNote(product) {
  if (product.stock === 0) return el("p", { class: "stock" }, "Out of stock");
  if (product.stock <= FEW_LEFT) return el("p", { class: "stock" }, `Only ${product.stock} left`);
  return null;
}

function card(product) {
  remember(product);
  const message = el("p", { class: "message", role: "status", "aria-live": "polite" });
  const quantity = el("input", { type: "number", min: 1, max: MAX_QUANTITY, value: 1, id: "qty-" + product.id, class: "qty" });
  const add = el("button", { type: "button", class: "add", onclick: async () => {
    const wanted = Number(quantity.value);
    if (!Number.isInteger(wanted) || wanted < 1 || wanted > MAX_QUANTITY) {
      say(message, `Enter a quantity from 1 to ${MAX_QUANTITY}.`, "error");
      return;
    }
    const { item, refusal } = await prices.get(product.id);
    if (!item) { say(message, refusal, "error"); return; }
    const refused = addToBasket(product, wanted, item);
    say(message, refused || `Added to the basket: ${quantityOf(product.id)} in it now.`, refused ? "error" : "ok");
    if (!refused) basketNotes.set(product.id, message);
  } }, "Add to basket");
  add.disabled = product.stock === 0;
  return el("li", { class: "product", "data-id": product.id, "data-name": product.name, "data-category": product.category_id },
    el("h3", { title: product.name }, product.name),
    el("p", { class: "muted", title: `${product.category_id} · ${product.sku}` }, `${product.category_id} · ${product.sku}`),
    el("p", { class: "price", "data-price-for": product.id }, money(product.current_price, product.currency)),
    stockNote(product) || "",
    offerSlot(product, quantity, message),
    sellersSlot(product, quantity, message),
    // Above the quantity and button, which stay on each card's bottom edge, level across a row.
    message,
    el("div", { class: "buy" }, el("label", { for: "qty-" + product.id }, "Quantity"), quantity, add));
}

// A display price (POST /api/v1/prices): what a quote of one unit charges, the list price struck
// through when it differs, "incl. tax" for a tax-inclusive price and "+ tax" for a net one, and a
// reduction's prior price.
function priceParts(item) {
  const parts = [];
  if (item.price !== item.list_price) parts.push(el("s", { title: "list price" }, money(item.list_price, item.currency)), " ");
  parts.push(el("strong", {}, money(item.price, item.currency)));
  // A no-break space inside the words: the line may break before "+ tax", never inside it.
  parts.push(el("span", { class: "muted tax" }, item.prices_include_tax ? " incl.\u00a0tax" : " +\u00a0tax"));
  if (item.prior_price) parts.push(el("span", { class: "prior muted" }, ` · lowest price in the 30 days before: ${money(item.prior_price, item.currency)}`));
  return parts;
}

// What a product's card and its "Add to basket" get from one answer of POST /api/v1/prices.
function pricedIn(answer, productId, currency) {
  if (answer.failed) return { refusal: `Its price could not be read: ${trouble(answer.failed)}` };
  const item = answer.items.find(i => i.product_id === productId);
  if (item) return { item };
  const error = answer.errors.find(e => e.product_id === productId);
  return { refusal: error && error.code === "CURRENCY_NOT_PRICED"
    ? `Not sold in ${currency}: show the prices in another currency to buy it.` : "This product cannot be bought now." };
}

// One POST /api/v1/prices per listing (per currency when each product shows its own), in the chosen
// currency and this store's channel; until it answers, a card shows the catalog price.
function showPrices(products, mine) {
  const chosen = $("currency").value;
  const byCurrency = new Map();
  for (const product of products) {
    const currency = chosen || product.currency;
    if (!byCurrency.has(currency)) byCurrency.set(currency, []);
    byCurrency.get(currency).push(product.id);
  }
  for (const [currency, ids] of byCurrency) {
    const answer = api("POST", "/api/v1/prices", { product_ids: ids, currency, channel: CHANNEL }).catch(failed => ({ failed }));
    for (const id of ids) prices.set(id, answer.then(got => pricedIn(got, id, currency)));
    answer.then(got => {
      if (mine !== search || got.failed) return; // a newer listing, or the catalog prices stay
      const node = id => document.querySelector(`[data-price-for="${id}"]`);
      for (const item of got.items) node(item.product_id)?.replaceChildren(...priceParts(item));
      for (const { product_id, code } of got.errors)
        node(product_id)?.replaceChildren(code === "CURRENCY_NOT_PRICED" ? `Not sold in ${currency}` : "Not available");
    });
  }
}

function describe(q, category) {
  const where = category ? ` in ${category}` : "";
  if (!shown) return q ? `No products match “${q}”${where}.` : `No products${where} yet.`;
  return `${shown} product${shown === 1 ? "" : "s"}${q ? ` matching “${q}”` : ""}${where}${cursor ? ", more below" : ""}.`;
}

// The first page of a new search (more=false) or the next page of the current one.
export async function loadProducts(more = false) {
  const mine = more ? search : ++search;
  const q = $("q").value.trim(), category = $("category").value;
  const params = new URLSearchParams({ limit: String(PAGE_SIZE), is_active: "true", sort: "catalog" });
  if (q) params.set("q", q);
  if (category) params.set("category_id", category);
  if (more && cursor) params.set("cursor", cursor);
  const status = $("products-status");
  say(status, "Loading products…");
  try {
    const page = await api("GET", "/api/v1/products?" + params);
    if (mine !== search) return;
    if (!more) { forgetSlots(); prices.clear(); shown = 0; $("products").replaceChildren(); }
    $("products").append(...page.items.map(card));
    if (page.items.length) showPrices(page.items, mine);
    shown += page.items.length;
    cursor = page.next_cursor;
    $("load-more").hidden = !cursor;
    say(status, describe(q, category));
  } catch (error) {
    if (mine === search) say(status, `Could not load the products: ${trouble(error)}`, "error");
  }
}

$("search").addEventListener("submit", event => { event.preventDefault(); loadProducts(); });
$("category").addEventListener("change", () => loadProducts());
$("currency").addEventListener("change", () => loadProducts());
$("load-more").addEventListener("click", () => loadProducts(true));
