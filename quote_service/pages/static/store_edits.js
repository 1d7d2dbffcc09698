// Changing an order's quantities (docs/orders-and-refunds.md#edits-and-exchanges): a confirmed order of
// the shopper's own has a "Change" button while ORDER_EDIT_WINDOW_MINUTES (rendered with the page) lasts.
// It opens a quantity for each line; "See the difference" previews the edit (POST /orders/{id}/edits),
// priced against the order's own terms, and tells in words what the shopper would pay more or get back
// and the new total; only then "Confirm the change" commits it (one Idempotency-Key per preview: a second
// click or a retry commits it once). A quantity changed after a preview hides it: the difference is
// always that of the quantities shown.
import { $, everySecond, nameOf, say } from "./store_ui.js";
import { trouble } from "./store_words.js";

const { api, el, money } = QS;
const WINDOW_MINUTES = Number($("store").dataset.editWindowMinutes);

function deadline(order) { return Date.parse(order.created_at) + WINDOW_MINUTES * 60_000; }

export function editable(order) {
  return order.status === "confirmed" && !order.purchase_id && Date.now() < deadline(order);
}

// The edit that takes each line from its quantity to the one asked for.
export function editBody(order, wanted) {
  const add = [];
  const remove = [];
  order.items.forEach((line, i) => {
    const want = wanted[i];
    if (want < line.quantity) remove.push({ product_id: line.product_id, quantity: line.quantity - want, line: line.line ?? i });
    // A line sold from another seller's offer gets more units of that offer (docs/offers.md).
    if (want > line.quantity) add.push({ product_id: line.product_id, quantity: want - line.quantity, ...(line.offer_id ? { offer_id: line.offer_id } : {}) });
  });
  return { ...(add.length ? { add } : {}), ...(remove.length ? { remove } : {}) };
}

// "You pay 59.00 TRY more." / "You get 30.09 TRY back." / "Nothing to pay or get back."
function payWords(preview) {
  const c = preview.currency;
  const due = preview.difference_due;
  if (due.startsWith("-")) return `You get ${money(due.slice(1), c)} back.`;
  if (Number(due) === 0) return "Nothing to pay or get back.";
  return `You pay ${money(due, c)} more.`;
}

const differenceWords = preview => `${payWords(preview)} New total ${money(preview.totals.total_amount, preview.currency)}.`;

function editRefusal(error) {
  switch (error.code) {
    case "ORDER_CHANGED": return "The order changed meanwhile: see the difference again.";
    case "EDIT_EXPIRED": return "That difference is no longer offered: see it again.";
    case "ORDER_NOT_EDITABLE": return "This order can no longer be changed.";
    case "INSUFFICIENT_STOCK": return "Not enough of that product is left in stock for the new quantity.";
    case "EDIT_EXCEEDS_ORDER": return "The order does not hold that many.";
    default: return trouble(error);
  }
}

// The "Change" button of an order's row, and the form it opens; `changed(order)` gets the order as edited.
export function changeButton(order, message, changed) {
  const button = el("button", { type: "button", class: "change-order secondary",
    "aria-label": `Change the quantities of the order of ${money(order.total_amount, order.currency)}` }, "Change");
  button.addEventListener("click", () => {
    button.hidden = true;
    button.after(editForm(order, message, changed, () => { button.hidden = false; }));
  });
  const stop = everySecond(now => {
    if (!button.isConnected) { stop(); return; }
    if (now >= deadline(order)) { stop(); button.remove(); }
  });
  return button;
}

function editForm(order, message, changed, closed) {
  const c = order.currency;
  const inputs = order.items.map((line, i) => el("input", {
    type: "number", min: "0", max: String(line.quantity + 99), value: String(line.quantity), inputmode: "numeric",
    id: `edit-${order.id}-${i}`, class: "edit-quantity", disabled: line.price_source === "gift",
  }));
  const outcome = el("p", { class: "edit-outcome", role: "status", "aria-live": "polite" });
  const confirm = el("button", { type: "button", class: "confirm-edit", hidden: true }, "Confirm the change");
  const previewButton = el("button", { type: "button", class: "preview-edit" }, "See the difference");
  const close = el("button", { type: "button", class: "secondary close-edit" }, "Close");
  const form = el("div", { class: "order-edit" },
    ...order.items.map((line, i) => el("div", { class: "edit-line" },
      el("label", { for: inputs[i].id }, `${nameOf(line.product_id)} at ${money(line.unit_price, c)}`), inputs[i])),
    el("div", { class: "edit-actions" }, previewButton, confirm, close), outcome);
  let preview = null;
  const forget = () => { preview = null; confirm.hidden = true; say(outcome, "", null); };
  inputs.forEach(input => input.addEventListener("input", forget));
  close.addEventListener("click", () => { form.remove(); closed(); });
  previewButton.addEventListener("click", async () => {
    const wanted = inputs.map(input => Math.max(0, Math.floor(Number(input.value) || 0)));
    const body = editBody(order, wanted);
    if (!Object.keys(body).length) { say(outcome, "Change a quantity first.", "error"); return; }
    previewButton.disabled = true;
    try {
      preview = await api("POST", `/api/v1/orders/${order.id}/edits`, body);
      say(outcome, differenceWords(preview), "ok");
      confirm.hidden = false;
    } catch (error) {
      forget();
      say(outcome, error.code === "VALIDATION_FAILED" && body.remove && !wanted.some(Boolean)
        ? "An order keeps at least one item: cancel it instead." : editRefusal(error), "error");
    } finally {
      previewButton.disabled = false;
    }
  });
  confirm.addEventListener("click", async () => {
    if (!preview) return;
    confirm.disabled = true;
    try {
      const done = await api("POST", `/api/v1/orders/${order.id}/edits/${preview.edit_id}/commit`, {},
        { "Idempotency-Key": `store-edit-${preview.edit_id}` });
      changed(done, payWords(preview));
    } catch (error) {
      confirm.disabled = false;
      forget();
      say(outcome, editRefusal(error), "error");
    }
  });
  say(message, `${order.items.length === 1 ? "Set the quantity" : "Set the quantities"}, then see the difference.`, null);
  return form;
}
