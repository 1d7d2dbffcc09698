// Every refusal the store can meet, in words a shopper reads: what happened and what to do next.
// The code never stands alone (a person does not read SOLD_OUT); unknown ones fall back to the
// API's own message, which is written for people too.
import { nameOf } from "./store_ui.js";

const { money, clock } = QS;

export const COUPON_REASONS = {
  NOT_FOUND: "no such coupon", INACTIVE: "this coupon is no longer active",
  NOT_STARTED: "this coupon is not valid yet", EXPIRED: "this coupon has expired",
  MIN_SUBTOTAL: "the basket is below this coupon's minimum", USAGE_LIMIT: "this coupon has been used up",
  NOT_APPLICABLE: "it does not apply to these products", DUPLICATE: "entered twice",
  NOT_COMBINABLE: "it cannot be combined with a promotion in this basket",
  CURRENCY_MISMATCH: "it is for another currency",
};

// Troubles any request can meet (the network, the service busy).
export function trouble(error) {
  if (!error || !error.code) return "The store could not reach the service. Check your connection and try again.";
  switch (error.code) {
    case "RATE_LIMITED": return "Too many requests in a short time. Wait a moment, then try again.";
    case "OVERLOADED": case "DEPENDENCY_UNAVAILABLE": case "SERVICE_UNAVAILABLE": case "QUOTE_TIMEOUT":
      return "The store is busy right now. Try again in a few seconds.";
    default: return error.message;
  }
}

// "items[1].quantity" → the name of the basket's second line.
function lineNames(error, lines) {
  const named = (error.details || []).map(d => /^items\[(\d+)\]/.exec(d.field || "")).filter(Boolean)
    .map(m => lines[Number(m[1])]).filter(Boolean).map(line => line.product.name);
  return named.length ? named.join(", ") : "a product in your basket";
}

export function quoteRefusal(error, lines) {
  switch (error.code) {
    case "INSUFFICIENT_STOCK":
      return `Not enough stock to hold ${lineNames(error, lines)} right now: lower the quantity or remove it, then go to checkout again.`;
    case "PRODUCT_UNAVAILABLE": return `${lineNames(error, lines)} is no longer sold: remove it from the basket.`;
    case "CURRENCY_MISMATCH": case "CURRENCY_NOT_PRICED":
      return `${lineNames(error, lines)} cannot be priced in this basket's currency: order it on its own.`;
    case "VALIDATION_FAILED": return `Please check the basket and the delivery address: ${error.message}.`;
    case "QUANTITY_RULE": return `${quantityWords(error, lines)}: change the quantity, then ask again.`;
    default: return trouble(error);
  }
}

// Each item a quantity rule refuses, in words: "Notebook A5: must be at least 2".
function quantityWords(error, lines) {
  return (error.details || []).map(d => {
    const found = /^items\[(\d+)\]/.exec(d.field || "");
    const line = found && lines ? lines[Number(found[1])] : null;
    return `${line ? line.product.name : "A product"}: ${d.message}`;
  }).join("; ") || error.message;
}

export function orderRefusal(error) {
  switch (error.code) {
    case "QUOTE_EXPIRED": return "This quote has expired: ask for a new quote, then place the order.";
    case "QUOTE_ALREADY_ORDERED": return "This quote has already been ordered: see Your orders.";
    case "INSUFFICIENT_STOCK":
      return "Not enough stock is left for this basket: change it and ask for a new quote (Go to checkout holds the items while you decide).";
    case "COUPON_LIMIT_REACHED": return "A coupon in this quote has just been used up: ask for a new quote.";
    case "PROMOTION_LIMIT_REACHED": return "A promotion in this quote has just run out: ask for a new quote.";
    case "PROMOTION_BUDGET_EXHAUSTED": return "A promotion in this quote has just run out of budget: ask for a new quote.";
    case "QUANTITY_RULE": return "You have reached the most you may buy of a product in this basket: change it and ask for a new quote.";
    case "PRODUCT_UNAVAILABLE": return "A product in this quote is no longer sold: remove it and ask for a new quote.";
    default: return trouble(error);
  }
}

export function cancelRefusal(error, windowMinutes) {
  switch (error.code) {
    case "CANCEL_NOT_ALLOWED": return `This order can no longer be cancelled: the ${windowMinutes} minutes to cancel it have passed.`;
    case "ORDER_CLOSED": return "This order is already cancelled or refunded.";
    default: return trouble(error);
  }
}

// A refused flash purchase, told with the sale as it is now (read again after the refusal).
export function flashRefusal(error, { quantity, sale, item, mine }) {
  const name = nameOf(item.product_id);
  switch (error.code) {
    case "SOLD_OUT":
      return item.remaining_stock > 0
        ? `Sold out: only ${item.remaining_stock} ${name} left at the flash price, fewer than the ${quantity} you asked for. Nothing was bought.`
        : `Sold out: no ${name} is left at the flash price. Nothing was bought.`;
    case "PURCHASE_LIMIT_EXCEEDED":
      return `Limit reached: this sale sells at most ${item.per_user_limit} ${name} per customer and you have bought ${mine.purchased}`
        + (mine.remaining_limit > 0 ? `, so you can buy ${mine.remaining_limit} more.` : ", so you cannot buy more.") + " Nothing was bought.";
    case "SALE_NOT_ACTIVE":
      return sale.status === "scheduled"
        ? `This flash sale has not started yet: it starts at ${clock(sale.starts_at)}. Nothing was bought.`
        : "This flash sale has ended. Nothing was bought.";
    case "PRICE_CHANGED":
      return `The flash price has changed: it is now ${money(item.flash_price, item.currency)}. Check it, then buy again. Nothing was bought.`;
    default: return `Not bought: ${trouble(error)}`;
  }
}
