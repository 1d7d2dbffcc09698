"use strict";
// The books page (admin, read-only): latest refunds, a seller's statement, price lists, promotions.
(() => {
  const { api, el, money, cell, fillOr } = QS;
  const $ = id => document.getElementById(id);
  const DAY_MS = 86400000;
  let sellers = [];

  const day = d => d.toISOString().slice(0, 10);
  const stamp = iso => iso ? new Date(iso).toLocaleString() : "";
  const window_ = (from, to) => `${from ? stamp(from) : "always"} → ${to ? stamp(to) : "open-ended"}`;
  const list = values => values && values.length ? values.join(", ") : "everyone";

  async function refunds(books) {
    fillOr($("refund-rows"), books.recent_refunds.map(r => el("tr", { class: "refund", "data-kind": r.kind },
      cell(stamp(r.created_at)), cell(r.order_id), cell(r.kind),
      cell(money(r.total_refunded, r.currency), { class: "num" }), cell(money(r.commission_reversed, r.currency), { class: "num" }),
      cell(r.reason || "–"), cell(r.created_by))), "No refunds yet.");
  }

  function sellerOptions() {
    const select = $("statement-seller"), chosen = select.value;
    select.replaceChildren(...sellers.map(s => el("option", { value: s.seller_id }, s.seller_id)));
    if (chosen) select.value = chosen;
    currencyOptions();
  }

  function currencyOptions() {
    const seller = sellers.find(s => s.seller_id === $("statement-seller").value);
    const select = $("statement-currency"), chosen = select.value;
    select.replaceChildren(...(seller ? seller.currencies : []).map(c => el("option", { value: c }, c)));
    if (chosen && seller && seller.currencies.includes(chosen)) select.value = chosen;
  }

  async function statement() {
    const seller = $("statement-seller").value;
    if (!seller) return fillOr($("statement-rows"), [], "No sellers yet.");
    const query = new URLSearchParams({ from: $("statement-from").value, to: $("statement-to").value });
    if ($("statement-currency").value) query.set("currency", $("statement-currency").value);
    const s = await api("GET", `/api/v1/sellers/${encodeURIComponent(seller)}/statement?${query}`);
    const c = s.currency;
    const totals = [["Orders", s.orders], ["Gross sales", money(s.gross_sales, c)], ["Refunds", money(s.refunds, c)],
      ["Net sales", money(s.net_sales, c)], ["Commission charged", money(s.commission_charged, c)],
      ["Commission reversed", money(s.commission_reversed, c)], ["Net commission", money(s.net_commission, c)],
      ["Payout", money(s.payout, c)]];
    $("statement-totals").replaceChildren(...totals.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", { title: String(v) }, String(v)))));
    fillOr($("statement-rows"), s.days.map(d => el("tr", {}, cell(d.date), cell(d.orders, { class: "num" }),
      cell(money(d.gross_sales), { class: "num" }), cell(money(d.refunds), { class: "num" }),
      cell(money(d.net_commission), { class: "num" }), cell(money(d.payout), { class: "num" }))),
      `${seller} sold nothing in these days.`);
  }

  async function priceLists() {
    const page = await api("GET", "/api/v1/price-lists?limit=100");
    fillOr($("price-list-rows"), page.items.map(p => el("tr", {}, cell(p.name), cell(p.currency),
      cell(list(p.customer_groups)), cell(list(p.channels)), cell(p.priority, { class: "num" }),
      cell(window_(p.starts_at, p.ends_at)), cell(p.price_count, { class: "num" }))), "No price lists.");
  }

  // A promotion's configuration and conditions in a line each (the full JSON is the tooltip).
  const offer = p => Object.entries(p.config).map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
  const conditions = p => Object.entries(p.conditions).filter(([, v]) => v !== null && !(Array.isArray(v) && !v.length))
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`).join("; ") || "every basket";

  async function promotions() {
    const page = await api("GET", "/api/v1/promotions?limit=100");
    fillOr($("promotion-rows"), page.items.map(p => el("tr", { "data-active": String(p.is_active) }, cell(p.name), cell(p.kind),
      cell(offer(p)), cell(conditions(p)), cell(p.priority, { class: "num" }),
      cell([p.combinable ? "promotions" : "", p.combines_with_coupons ? "coupons" : ""].filter(Boolean).join(", ") || "nothing"),
      cell(window_(p.starts_at, p.ends_at)), cell(`${p.times_used}${p.usage_limit === null ? "" : " / " + p.usage_limit}`, { class: "num" }))),
      "No promotions.");
  }

  async function load() {
    try {
      const books = await api("GET", "/api/v1/dashboard/books");
      sellers = books.sellers;
      sellerOptions();
      await Promise.all([refunds(books), statement(), priceLists(), promotions()]);
      $("status").textContent = "Updated " + new Date().toLocaleTimeString();
    } catch (e) {
      $("status").textContent = "Update failed: " + e.message;
    }
  }

  const today = new Date();
  $("statement-to").value = day(today);
  $("statement-from").value = day(new Date(today.getTime() - 29 * DAY_MS));
  $("statement-seller").addEventListener("change", currencyOptions);
  $("statement-form").addEventListener("submit", async event => {
    event.preventDefault();
    try { await statement(); $("message").textContent = ""; }
    catch (e) { $("message").textContent = e.message; $("message").className = "message error"; }
  });
  $("refresh").addEventListener("click", load);
  load();
})();
