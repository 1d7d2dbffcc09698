"use strict";
// The books page (admin, read-only): latest refunds, a seller's statement, price lists, promotions.
(() => {
  const { api, el, money, stamp, exact, day: dayName, cell, fillOr } = QS;
  const { offer, conditions, combines, inEffectEnds, productIds } = OfferWords;
  const $ = id => document.getElementById(id);
  const DAY_MS = 86400000;
  let sellers = [];

  const day = d => d.toISOString().slice(0, 10);
  const list = values => values && values.length ? values.join(", ") : "everyone";
  const KINDS = { refund: "refund", cancel: "cancellation" };
  // A window's cell: compact, with its exact start and end in the tooltip. Never cut short: a
  // window of two dates that are not today ("Nov 22, 10:58 PM → Nov 26, 10:58 PM") breaks the
  // line at the arrow, each end kept whole.
  const windowCell = (from, to) => el("td", {
    class: "wrap window", title: `${from ? exact(from) : "always"} → ${to ? exact(to) : "open-ended"}`,
  }, ...inEffectEnds(from, to).flatMap((end, i) => [i ? " → " : "", el("span", { class: "end" }, end)]));

  async function refunds(books) {
    fillOr($("refund-rows"), books.recent_refunds.map(r => el("tr", { class: "refund", "data-kind": r.kind },
      cell(stamp(r.created_at), { title: exact(r.created_at) }), cell(r.order_id), cell(KINDS[r.kind] || r.kind),
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
    $("statement-tz").textContent = `Days are local days in ${s.tz}.`;
    // The days' amounts are in the statement's currency: the headers say which, once.
    for (const th of document.querySelectorAll("#panel-statement th[data-label]")) th.textContent = `${th.dataset.label} (${c})`;
    fillOr($("statement-rows"), s.days.map(d => el("tr", {}, cell(dayName(d.date), { title: d.date }), cell(d.orders, { class: "num" }),
      cell(money(d.gross_sales), { class: "num" }), cell(money(d.refunds), { class: "num" }),
      cell(money(d.net_commission), { class: "num" }), cell(money(d.payout), { class: "num" }))),
      `${seller} sold nothing in these days.`);
  }

  async function priceLists() {
    const page = await api("GET", "/api/v1/price-lists?limit=100");
    fillOr($("price-list-rows"), page.items.map(p => el("tr", {}, cell(p.name), cell(p.currency),
      cell(list(p.customer_groups)), cell(list(p.channels)), cell(p.priority, { class: "num" }),
      windowCell(p.starts_at, p.ends_at), cell(p.price_count, { class: "num" }))),
      "No price lists: every customer pays the catalog price.");
  }

  // The names of the products promotions name, read once each (a promotion names a few at most).
  const productNames = new Map();
  async function nameProducts(ids) {
    const missing = [...new Set(ids)].filter(id => !productNames.has(id));
    await Promise.all(missing.map(async id => {
      try { productNames.set(id, (await api("GET", `/api/v1/products/${encodeURIComponent(id)}`)).name); }
      catch (e) { if (e.status !== 404 && e.status !== 422) throw e; productNames.set(id, id); }
    }));
  }

  // Offer and conditions in words, wrapped rather than cut: every word of a deal matters.
  async function promotions() {
    const page = await api("GET", "/api/v1/promotions?limit=100");
    await nameProducts(page.items.flatMap(productIds));
    fillOr($("promotion-rows"), page.items.map(p => el("tr", { "data-active": String(p.is_active), "data-kind": p.kind },
      cell(p.name + (p.is_active ? "" : " (switched off)"), { class: "wrap" }),
      cell(offer(p, productNames), { class: "wrap offer" }), cell(conditions(p, productNames), { class: "wrap conditions" }),
      cell(p.priority, { class: "num" }), cell(combines(p), { class: "combines" }), windowCell(p.starts_at, p.ends_at),
      cell(`${p.times_used}${p.usage_limit === null ? "" : " of " + p.usage_limit}`, { class: "num" }))),
      "No promotions: baskets get coupons only.");
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
