// The shopper's orders, newest first, a page at a time; each confirmed one has a Cancel button
// while the cancel window (CANCEL_WINDOW_MINUTES, rendered with the page) lasts. The button goes
// away when the window closes, by the browser's clock; the server refuses a late cancel anyway,
// and that refusal is told in words next to the order.
import { $, everySecond, say } from "./store_ui.js";
import { cancelRefusal, trouble } from "./store_words.js";

const { api, el, money, clock, stamp, uuid } = QS;
const PAGE_SIZE = 5;
const WINDOW_MINUTES = Number($("store").dataset.cancelWindowMinutes);
const STATUS = { confirmed: "confirmed", partially_refunded: "partly refunded", refunded: "refunded", cancelled: "cancelled" };
const when = iso => stamp(iso);
let cursor = null;
let onChange = () => {};

// Called after a cancel (stock came back: the catalog and the flash offers read again).
export function onOrdersChange(listener) { onChange = listener; }

function deadline(order) { return Date.parse(order.created_at) + WINDOW_MINUTES * 60_000; }

function orderItem(order) {
  const units = order.items.reduce((n, line) => n + line.quantity, 0);
  const message = el("p", { class: "message", role: "status", "aria-live": "polite" });
  const item = el("li", { class: "order", "data-id": order.id, "data-status": order.status },
    el("div", { class: "summary" },
      el("span", {}, `${when(order.created_at)} · ${units} item${units === 1 ? "" : "s"}`),
      el("strong", {}, money(order.total_amount, order.currency)),
      el("span", { class: "state" }, STATUS[order.status] || order.status)));
  if (Number(order.refunded_amount) > 0) item.append(el("p", { class: "muted" }, `${money(order.refunded_amount, order.currency)} refunded`));
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
  item.append(message);
  return item;
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

// The first page (more=false: after an order too) or the next, older one.
export async function loadOrders(more = false) {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (more && cursor) params.set("cursor", cursor);
  try {
    const page = await api("GET", "/api/v1/orders?" + params);
    const items = page.items.map(orderItem);
    if (more) $("orders").append(...items);
    else $("orders").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "No orders yet.")]));
    cursor = page.next_cursor;
    $("more-orders").hidden = !cursor;
  } catch (error) {
    say($("orders-message"), `Could not load your orders: ${trouble(error)}`, "error");
  }
}

$("more-orders").addEventListener("click", () => loadOrders(true));
