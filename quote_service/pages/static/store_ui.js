// What every part of the store shares: messages shown next to what caused them, one ticker for
// every countdown, exact money sums and the names of products by id.
const { countdown } = QS;

export const $ = id => document.getElementById(id);
// The sales channel this store prices and quotes for (rendered with the page): price lists limited
// to it apply to the cards and to the quote alike.
export const CHANNEL = $("store").dataset.channel;

// A message in its live region (role="status" in the template), so a screen reader announces it
// where it appears; kind "ok" or "error" colours it.
export function say(node, text, kind) {
  node.textContent = text;
  node.classList.toggle("ok", kind === "ok");
  node.classList.toggle("error", kind === "error");
}

// Every second: each `.countdown[data-until]` shows the time left, then each registered task runs
// (a hold or a quote that expires, a Cancel whose window closes).
const tasks = new Set();
export function everySecond(task) { tasks.add(task); return () => tasks.delete(task); }
function tick() {
  for (const node of document.querySelectorAll(".countdown[data-until]")) node.textContent = countdown(node.dataset.until);
  for (const task of [...tasks]) task(Date.now());
}
setInterval(tick, 1000);

// Amounts are exact decimal strings ("899.90", JPY "899"): multiply and add in minor units with
// BigInt, never in floating point, and write the result with the same number of digits.
function minor(amount) {
  const [whole, fraction = ""] = String(amount).split(".");
  return { units: BigInt(whole + fraction), digits: fraction.length };
}
export function times(amount, quantity) {
  const { units, digits } = minor(amount);
  return write(units * BigInt(quantity), digits);
}
export function sum(amounts) {
  if (!amounts.length) return null;
  const parts = amounts.map(minor);
  return write(parts.reduce((total, p) => total + p.units, 0n), parts[0].digits);
}
function write(units, digits) {
  const negative = units < 0n;
  const text = (negative ? -units : units).toString().padStart(digits + 1, "0");
  const value = digits ? text.slice(0, -digits) + "." + text.slice(-digits) : text;
  return (negative ? "-" : "") + value;
}

// Product names for the lines the API answers with ids (quote lines, holds, refusals).
const names = new Map();
export function remember(product) { names.set(product.id, product.name); }
export function nameOf(productId) { return names.get(productId) || "a product"; }
