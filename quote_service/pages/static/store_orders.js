// The shopper's orders and flash purchases, newest first, a page at a time: two lists (GET
// /orders and GET /flash-sales/purchases/me) merged by time, each read a page further only when
// the merge needs its next item. Each confirmed order has a Cancel button while the cancel
// window (CANCEL_WINDOW_MINUTES, rendered with the page) lasts. The button goes away when the
// window closes, by the browser's clock; the server refuses a late cancel anyway, and that
// refusal is told in words next to the order. A flash "Buy now" purchase is an order (labelled
// "flash purchase", with its Cancel like any order); a purchase made before purchases were orders
// has no order: it is a row of its own, labelled, with its sale and no Cancel. A confirmed order also has
// a Change button while its edit window lasts (store_edits.js).
import { $, everySecond, nameOf, say } from "./store_ui.js";
import { cancelRefusal, trouble } from "./store_words.js";
import { changeButton, editable } from "./store_edits.js";

const { api, el, money, clock, stamp, uuid } = QS;
const PAGE_SIZE = 5;
const X = "\u00d7"; // "2 × Lamp"
const WINDOW_MINUTES = Number($("store").dataset.cancelWindowMinutes);
const STATUS = { confirmed: "confirmed", partially_refunded: "partly refunded", refunded: "refunded", cancelled: "cancelled" };
const when = iso => stamp(iso);
const units = n => `${n} item${n === 1 ? "" : "s"}`;
let onChange = () => {};

// A newest-first list read a page at a time: `items` read but not shown yet (those `keep` keeps).
function source(path, row, keep = () => true) { return { path, row, keep, items: [], cursor: null, done: false }; }
let sources = [];

async function head(list) {
  while (!list.items.length && !list.done) {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (list.cursor) params.set("cursor", list.cursor);
    const page = await api("GET", `${list.path}?${params}`);
    list.items.push(...page.items.filter(list.keep));
    list.cursor = page.next_cursor;
    list.done = !page.next_cursor;
  }
  return list.items[0];
}

// The next `count` rows of the merged lists, newest first.
async function nextRows(lists, count) {
  const rows = [];
  while (rows.length < count) {
    const heads = await Promise.all(lists.map(head));
    let newest = -1;
    heads.forEach((item, i) => {
      if (item && (newest < 0 || Date.parse(item.created_at) > Date.parse(heads[newest].created_at))) newest = i;
    });
    if (newest < 0) break;
    const list = lists[newest];
    rows.push(list.row(list.items.shift()));
  }
  return rows;
}

const hasMore = lists => lists.some(list => list.items.length || !list.done);

// Called after a cancel (stock came back: the catalog and the flash offers read again).
export function onOrdersChange(listener) { onChange = listener; }

function deadline(order) { return Date.parse(order.created_at) + WINDOW_MINUTES * 60_000; }

function orderItem(order) {
  const count = order.items.reduce((n, line) => n + line.quantity, 0);
  const message = el("p", { class: "message", role: "status", "aria-live": "polite" });
  const flash = Boolean(order.purchase_id); // a "Buy now" purchase's order
  const state = el("span", { class: "state" }, STATUS[order.status] || order.status);
  if (flash) state.append(" ", el("span", { class: "badge flash_sale" }, "flash purchase"));
  const item = el("li", { class: flash ? "order flash-purchase" : "order", "data-id": order.id, "data-status": order.status },
    el("div", { class: "summary" },
      el("span", {}, `${when(order.created_at)} · ${units(count)}`),
      el("strong", {}, money(order.total_amount, order.currency)),
      state));
  if (flash) {
    const [line] = order.items;
    item.append(el("p", { class: "muted" }, `${line.quantity} ${X} ${nameOf(line.product_id)} at `
      + `${money(line.unit_price, order.currency)}, ${taxWords(order)}.`));
  }
  if (Number(order.refunded_amount) > 0) item.append(el("p", { class: "muted" }, `${money(order.refunded_amount, order.currency)} refunded`));
  if (Number(order.balance_due || 0) > 0) item.append(el("p", { class: "muted" }, `${money(order.balance_due, order.currency)} to pay for changes`));
  if (order.status === "confirmed" && Date.now() < deadline(order)) {
    const cancel = el("button", { type: "button", class: "cancel-order secondary",
      "aria-label": `Cancel the order of ${when(order.created_at)}, ${money(order.total_amount, order.currency)}` }, "Cancel");
    const until = el("span", { class: "muted" }, ` until ${clock(deadline(order))}`);
    cancel.addEventListener("click", () => cancelOrder(order, item, message, cancel));
    item.append(cancel, until);
    const stop = everySecond(now => {
      if (!item.isConnected) { stop(); return; }
      if (now >= deadline(order)) { stop(); cancel.remove(); until.remove(); }
    });
  }
  if (editable(order)) {
    item.append(changeButton(order, message, (done, words) => {
      const now = orderItem(done);
      item.replaceWith(now);
      say(now.querySelector(".message"), `Order changed: ${words}`, "ok");
      onChange();
    }));
  }
  item.append(message);
  return item;
}

function purchaseItem(purchase) {
  const { currency, quantity } = purchase;
  return el("li", { class: "order flash-purchase", "data-id": purchase.purchase_id, "data-status": "flash" },
    el("div", { class: "summary" },
      el("span", {}, `${when(purchase.created_at)} · ${units(quantity)}`),
      el("strong", {}, money(purchase.total, currency)),
      el("span", { class: "state" }, el("span", { class: "badge flash_sale" }, "flash purchase"))),
    el("p", { class: "muted" }, `${quantity} ${X} ${purchase.product_name} at ${money(purchase.unit_price, currency)} in `
      + `${purchase.sale_name}; flash purchases are final.`));
}

// The tax of a flash purchase's order as its row says it: added to the flash price, or held in it.
function taxWords(order) {
  const c = order.currency;
  return Number(order.tax_included || 0) > 0 ? `${money(order.tax_included, c)} tax included`
    : `${money(order.tax_amount, c)} tax`;
}

async function cancelOrder(order, item, message, button) {
  button.disabled = true;
  try {
    // One key per order: a second click (or a retry after a lost answer) cancels it once.
    const done = await api("POST", `/api/v1/orders/${order.id}/cancel`, {}, { "Idempotency-Key": `store-cancel-${order.id}` });
    const now = orderItem(done);
    item.replaceWith(now);
    say(now.querySelector(".message"), `Order cancelled: ${money(done.refunded_amount, done.currency)} will be refunded.`, "ok");
    onChange();
  } catch (error) {
    button.disabled = false;
    say(message, error.code ? cancelRefusal(error, WINDOW_MINUTES) : trouble(error), "error");
    if (error.code === "CANCEL_NOT_ALLOWED") button.remove();
  }
}

// The first page (more=false: after an order or a flash purchase too) or the next, older one.
export async function loadOrders(more = false) {
  // A purchase with an order is that order's row; only those made before purchases were orders come from here.
  if (!more) sources = [source("/api/v1/orders", orderItem),
    source("/api/v1/flash-sales/purchases/me", purchaseItem, purchase => !purchase.order_id)];
  const lists = sources;
  try {
    const items = await nextRows(lists, PAGE_SIZE);
    if (lists !== sources) return; // a newer first page (after an order or a purchase) replaced these lists
    if (more) $("orders").append(...items);
    else $("orders").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "No orders yet.")]));
    $("more-orders").hidden = !hasMore(lists);
  } catch (error) {
    say($("orders-message"), `Could not load your orders: ${trouble(error)}`, "error");
  }
}

$("more-orders").addEventListener("click", async () => {
  $("more-orders").disabled = true; // one page at a time: two merges at once would interleave
  try { await loadOrders(true); } finally { $("more-orders").disabled = false; }
});
