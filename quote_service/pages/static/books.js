"use strict";
// The books page (admin, read-only): latest refunds, a seller's statement, the sellers' payouts, price
// lists, promotions.
(() => {
  const { api, csrf, el, money, names, stamp, exact, day: dayName, cell, fillOr, fillTotals } = QS;
  const { offerInFull, conditions, combines, inEffectEnds, productIds } = OfferWords;
  const $ = id => document.getElementById(id);
  const DAY_MS = 86400000;
  let sellers = [];

  const day = d => d.toISOString().slice(0, 10);
  const list = values => values && values.length ? values.join(", ") : "everyone";
  const KINDS = { refund: "refund", cancel: "cancellation" };
  // Who pays for a promotion's discount (docs/promotions.md: `funded_by`).
  const FUNDERS = { seller: "the seller", platform: "the platform" };
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

  // The seller, period and currency the form names, as the statement's and the ledger's query.
  function period() {
    const query = new URLSearchParams({ from: $("statement-from").value, to: $("statement-to").value });
    if ($("statement-currency").value) query.set("currency", $("statement-currency").value);
    return query;
  }
  const sellerPath = seller => `/api/v1/sellers/${encodeURIComponent(seller)}/statement`;

  // The statement the form names now: a change of seller, currency or dates asks again at once,
  // and an answer to an earlier question is dropped (never another seller's figures under this one).
  let statementAsked = 0;
  async function statement() {
    const asked = ++statementAsked;
    const seller = $("statement-seller").value;
    if (!seller) { ledgerFor(null); return fillOr($("statement-rows"), [], "No sellers yet."); }
    let s;
    try { s = await api("GET", `${sellerPath(seller)}?${period()}`); }
    catch (e) { if (asked === statementAsked) ledgerFor(null, "No ledger: the statement was refused."); throw e; }
    if (asked !== statementAsked) return;
    const c = s.currency;
    const totals = [["Orders", s.orders], ["Gross sales", money(s.gross_sales, c)], ["Refunds", money(s.refunds, c)],
      ["Net sales", money(s.net_sales, c)], ["Tax collected", money(s.tax_collected, c)],
      ["Tax refunded", money(s.tax_refunded, c)], ["Platform contribution", money(s.platform_contribution, c)],
      ["Platform contribution reversed", money(s.platform_contribution_reversed, c)],
      ["Commission charged", money(s.commission_charged, c)], ["Commission reversed", money(s.commission_reversed, c)],
      ["Net commission", money(s.net_commission, c)],
      // docs/commission.md: the seller's named fees (in the commission), net of what refunds reversed
      ...Object.entries(s.fees || {}).map(([name, amount]) => [`of which ${name.replaceAll("_", " ")}`, money(amount, c)]),
      ["Commission tax", money(s.commission_tax, c)], ["Delivery fees", money(s.delivery_fees, c)], ["Payout", money(s.payout, c)]];
    fillTotals($("statement-totals"), totals);
    $("statement-tz").textContent = `Days are local days in ${s.tz}.`;
    // The days' amounts are in the statement's currency: the headers say which, once.
    for (const th of document.querySelectorAll("#panel-statement th[data-label]")) th.textContent = `${th.dataset.label} (${c})`;
    const amount = value => cell(money(value), { class: "num" });
    fillOr($("statement-rows"), s.days.map(d => el("tr", {}, cell(dayName(d.date), { title: d.date }), cell(d.orders, { class: "num" }),
      amount(d.gross_sales), amount(d.refunds), amount(d.tax_collected), amount(d.tax_refunded),
      amount(d.platform_contribution), amount(d.platform_contribution_reversed), amount(d.net_commission),
      amount(d.commission_tax), amount(d.delivery_fees), amount(d.payout))),
      `${seller} sold nothing in these days.`);
    await ledgerFor(s);
  }

  // Exact decimal sums of the API's amount strings ("-81.00"): BigInt in the smallest unit any
  // term names, so a total is the API's to the minor unit, never a float's approximation.
  function decimalSum(...terms) {
    const parsed = terms.map(([text, sign]) => {
      const [, minus, whole, fraction = ""] = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(text));
      return { value: BigInt(minus + whole + fraction) * BigInt(sign), digits: fraction.length };
    });
    const digits = Math.max(0, ...parsed.map(p => p.digits));
    let total = 0n;
    for (const p of parsed) total += p.value * 10n ** BigInt(digits - p.digits);
    const negative = total < 0n, text = (negative ? -total : total).toString().padStart(digits + 1, "0");
    const whole = text.slice(0, text.length - digits), fraction = text.slice(text.length - digits);
    return (negative ? "-" : "") + whole + (digits ? "." + fraction : "");
  }

  // The seller's ledger for the statement's seller, period, time zone and currency: a page at a
  // time (More follows the cursor), the whole period's totals under it (the statement's figures,
  // which the entries sum to), and the same period as a CSV file.
  const LEDGER_PAGE = Math.min(500, Math.max(1, Number(new URLSearchParams(location.search).get("ledger_limit")) || 20));
  let ledger = null;  // {path, query, cursor, shown}

  function ledgerQuery(s) {
    const query = period();
    query.set("tz", s.tz);
    if (s.currency) query.set("currency", s.currency);
    return query;
  }

  async function ledgerFor(s, emptyText = "No sellers yet.") {
    const csv = $("ledger-csv");
    $("ledger-total").replaceChildren();
    if (!s) {
      ledger = null;
      csv.hidden = true;
      $("ledger-more").hidden = true;
      $("ledger-count").textContent = "";
      return fillOr($("ledger-rows"), [], emptyText);
    }
    const query = ledgerQuery(s);
    const path = `${sellerPath(s.seller_id)}/entries`;
    const file = new URLSearchParams(query);
    file.set("format", "csv");
    csv.href = `${path}?${file}`;
    csv.hidden = false;
    ledger = { path, query, cursor: null, shown: 0 };
    for (const th of document.querySelectorAll("#panel-ledger th[data-label]")) {
      th.textContent = s.currency ? `${th.dataset.label} (${s.currency})` : th.dataset.label;
    }
    const total = [decimalSum([s.gross_sales, 1], [s.refunds, -1]), decimalSum([s.tax_collected, 1], [s.tax_refunded, -1]),
      decimalSum([s.platform_contribution, 1], [s.platform_contribution_reversed, -1]), s.net_commission,
      s.commission_tax, s.delivery_fees, s.payout];
    $("ledger-total").replaceChildren(el("tr", { class: "sum" }, el("th", { colspan: 3 }, "Period total"),
      ...total.map(v => cell(v, { class: "num" }))));
    $("ledger-rows").replaceChildren();
    await ledgerPage();
  }

  async function ledgerPage() {
    const current = ledger;
    const query = new URLSearchParams(current.query);
    query.set("limit", String(LEDGER_PAGE));
    if (current.cursor) query.set("cursor", current.cursor);
    const page = await api("GET", `${current.path}?${query}`);
    if (ledger !== current) return;  // the form asked for another seller or period meanwhile
    const rows = page.items.map(e => el("tr", { class: "entry", "data-kind": e.kind, "data-id": e.id },
      cell(stamp(e.at), { title: exact(e.at) }), cell(e.kind),
      cell(e.order_id, { title: e.kind === "refund" ? `refund ${e.id} of order ${e.order_id}` : `order ${e.order_id}` }),
      ...[e.goods, e.tax, e.platform_contribution, e.commission, e.commission_tax, e.delivery_fees, e.payout]
        .map(v => cell(v, { class: "num" }))));
    current.shown += rows.length;
    current.cursor = page.next_cursor;
    if (current.shown === 0) fillOr($("ledger-rows"), [], `${page.seller_id} has no orders or refunds in these days.`);
    else $("ledger-rows").append(...rows);
    $("ledger-more").hidden = !page.next_cursor;
    $("ledger-count").textContent = page.next_cursor ? `${current.shown} entries shown, more to come.` : `${current.shown} entries.`;
  }

  // The API takes the session cookie only with the CSRF header, which a plain link cannot send:
  // the file is fetched like any API call and saved through a Blob, under the API's file name.
  async function downloadCsv(event) {
    event.preventDefault();
    const link = event.currentTarget;
    const res = await fetch(link.href, { headers: { "X-CSRF-Token": csrf(), "Accept": "text/csv" }, credentials: "same-origin" });
    if (!res.ok) {
      let message = res.statusText;
      try { message = (await res.json()).message || message; } catch (_) { /* not JSON */ }
      throw new Error(message);
    }
    const named = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "");
    const url = URL.createObjectURL(await res.blob());
    const save = el("a", { href: url, download: named ? named[1] : "ledger.csv", hidden: true });
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  // Each seller's balance now (a few at a time: each reads that seller's ledger) and the latest
  // payouts; a seller's row names its newest payout among them.
  const BALANCES_SHOWN = 100, AT_ONCE = 6;
  async function payouts() {
    const recent = await Payouts.latest(100);
    const newest = new Map();
    for (const p of recent) if (!newest.has(p.seller_id)) newest.set(p.seller_id, p);
    const shown = sellers.slice(0, BALANCES_SHOWN), balances = [];
    for (let i = 0; i < shown.length; i += AT_ONCE) {
      balances.push(...await Promise.all(shown.slice(i, i + AT_ONCE).map(s => Payouts.balance(s.seller_id))));
    }
    const lastOf = b => {
      const last = newest.get(b.seller_id);
      return last ? cell(`${money(last.amount, last.currency)}, ${Payouts.STATUS[last.status]}`, { title: `${last.cycle}: ${last.id}` })
        : cell("none yet");
    };
    fillOr($("balance-rows"), balances.map(b => el("tr", { class: "balance", "data-seller": b.seller_id },
      cell(b.seller_id), cell(b.currency),
      ...[b.available, b.held, b.reserved, b.carried_negative].map(v => cell(v, { class: "num" })),
      cell(stamp(b.next_payout_at), { title: exact(b.next_payout_at) }), lastOf(b))), "No sellers yet.");
    fillOr($("payout-rows"), recent.slice(0, 20).map(p => el("tr", { class: "payout", "data-status": p.status },
      ...Payouts.payoutCells(p, true))), "No payouts yet: a payout run pays each seller its available balance.");
  }

  async function priceLists() {
    const page = await api("GET", "/api/v1/price-lists?limit=100");
    fillOr($("price-list-rows"), page.items.map(p => el("tr", {}, cell(p.name), cell(p.currency),
      cell(list(p.customer_groups)), cell(list(p.channels)), cell(p.priority, { class: "num" }),
      windowCell(p.starts_at, p.ends_at), cell(p.price_count, { class: "num" }))),
      "No price lists: every customer pays the catalog price.");
  }

  // Offer and conditions in words, wrapped rather than cut: every word of a deal matters. The
  // products a promotion names are read once each (a promotion names a few at most).
  async function promotions() {
    const page = await api("GET", "/api/v1/promotions?limit=100");
    const productNames = await names("products", page.items.flatMap(productIds));
    fillOr($("promotion-rows"), page.items.map(p => el("tr", { "data-active": String(p.is_active), "data-kind": p.kind },
      cell(p.name + (p.is_active ? "" : " (switched off)"), { class: "wrap" }),
      cell(offerInFull(p, productNames), { class: "wrap offer" }), cell(conditions(p, productNames), { class: "wrap conditions" }),
      cell(p.priority, { class: "num" }), cell(combines(p), { class: "combines" }), windowCell(p.starts_at, p.ends_at),
      cell(FUNDERS[p.funded_by] || p.funded_by, { class: "funded" }),
      cell(`${p.times_used}${p.usage_limit === null ? "" : " of " + p.usage_limit}`, { class: "num" }))),
      "No promotions: baskets get coupons only.");
  }

  // Single-use codes generated for coupons (docs/promotions.md#code-batches): how many of each batch were used.
  async function codeBatches() {
    const batches = await api("GET", "/api/v1/coupon-code-batches?limit=50");
    fillOr($("code-batch-rows"), batches.map(b => el("tr", {}, cell(b.coupon_code),
      cell(b.prefix ? `${b.prefix}…` : "no prefix"), cell(b.count, { class: "num" }), cell(b.used, { class: "num" }),
      cell(stamp(b.created_at)))),
      "No code batches: coupons are used by their own codes.");
  }

  async function load() {
    try {
      const books = await api("GET", "/api/v1/dashboard/books");
      sellers = books.sellers;
      sellerOptions();
      await Promise.all([refunds(books), statement(), payouts(), priceLists(), promotions(), codeBatches()]);
      $("status").textContent = "Updated " + new Date().toLocaleTimeString();
    } catch (e) {
      $("status").textContent = "Update failed: " + e.message;
    }
  }

  const today = new Date();
  $("statement-to").value = day(today);
  $("statement-from").value = day(new Date(today.getTime() - 29 * DAY_MS));
  const shown = action => async event => {
    try { await action(event); $("message").textContent = ""; }
    catch (e) { $("message").textContent = e.message; $("message").className = "message error"; }
  };
  // Another seller (or currency, or period) empties the figures shown and loads the new ones:
  // the previous seller's never stay under the new name waiting for Show.
  $("statement-form").addEventListener("change", shown(async event => {
    if (event.target.id === "statement-seller") currencyOptions();
    fillTotals($("statement-totals"), []);
    $("statement-tz").textContent = "";
    fillOr($("statement-rows"), [], "Loading…");
    await ledgerFor(null, "Loading…");
    await statement();
  }));
  $("statement-form").addEventListener("submit", shown(async event => {
    event.preventDefault();
    await statement();
  }));
  $("ledger-more").addEventListener("click", shown(ledgerPage));
  $("ledger-csv").addEventListener("click", shown(downloadCsv));
  $("refresh").addEventListener("click", load);
  load();
})();
