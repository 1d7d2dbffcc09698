"use strict";
// The admin dashboard: polls the JSON API every POLL_MS and redraws each panel and chart.
(() => {
  const POLL_MS = 2000;
  const PURCHASE_PAGES = 10; // a sale's chart reads at most 10 pages of 500 purchases
  const { api, el, money, grouped, stamp, exact, countdown, cell, fillOr } = QS;
  const { SIGNALS, signalDetails, why, signed } = DashWords;
  const $ = id => document.getElementById(id);
  const products = new Map();
  const saleSeries = new Map(); // sale id → {state, series, units}: purchases are read again only when stock moved
  let sales = [];
  let busy = false;

  const name = id => (products.get(id) || {}).name || (id ? id.slice(0, 8) : "–");
  const currencyOf = id => (products.get(id) || {}).currency;
  const ms = iso => new Date(iso).getTime();

  // A panel whose endpoint answers 404 (that part of the service is not deployed) stays hidden.
  async function optional(panelId, load) {
    const panel = $(panelId);
    try { await load(); panel.hidden = false; }
    catch (e) { if (e.status === 404) panel.hidden = true; else throw e; }
  }

  async function loadProducts() {
    const page = await api("GET", "/api/v1/products?limit=500");
    for (const p of page.items) products.set(p.id, p);
    const sorted = page.items.slice().sort((a, b) => a.name.localeCompare(b.name));
    $("chart-product").replaceChildren(...sorted.map(p => el("option", { value: p.id }, p.name)));
  }

  async function summary() {
    const s = await api("GET", "/api/v1/dashboard/summary");
    $("kpi-quotes").textContent = grouped(s.quotes_last_hour);
    $("kpi-orders").textContent = grouped(s.orders_last_hour);
    $("kpi-conversion").textContent = s.conversion_rate === null ? "–" : s.conversion_rate + " %";
    kpiMoney($("kpi-revenue"), s.today.map(m => [m.revenue, m.currency]));
    kpiMoney($("kpi-commission"), s.today.map(m => [m.commission, m.currency]));
    const refunded = s.today.filter(m => m.refund_count > 0);
    kpiMoney($("kpi-refunds"), refunded.map(m => [m.refunds, m.currency]));
    const count = refunded.reduce((n, m) => n + m.refund_count, 0);
    $("kpi-refund-count").textContent = count === 1 ? "1 refund or cancellation" : count ? `${count} refunds and cancellations` : "";
    // "Today" and the days of the revenue chart are local days of the business time zone.
    $("kpi-day").textContent = `Days are local days in ${s.tz}.`;
    fillOr($("move-rows"), s.recent_price_moves.map(m => el("tr", { class: "move", "data-source": m.source },
      cell(stamp(m.changed_at), { title: exact(m.changed_at) }), cell(m.product_name),
      cell(`${money(m.old_price)} → ${money(m.new_price, m.currency)}`, { class: "num" }),
      el("td", {}, el("span", { class: "tag " + m.source }, m.source)), cell(m.reason))), "No price has moved yet.");
    revenueCharts(s.revenue_per_day);
    return s;
  }

  // A KPI in money: one line per currency, the amount large with its thousands grouped
  // ("94,364.98"), its currency small. No money today reads "0".
  function kpiMoney(node, amounts) {
    if (!amounts.length) { node.textContent = "0"; return; }
    node.replaceChildren(...amounts.map(([amount, currency]) => el("span", { class: "amount" },
      grouped(money(amount)), " ", el("span", { class: "unit" }, currency))));
  }

  // One chart per currency (amounts in two currencies never share a scale), over the same days.
  function revenueCharts(rows) {
    const box = $("revenue-charts");
    const currencies = [...new Set(rows.map(r => r.currency))].sort();
    if (!currencies.length) return;
    const dates = [...new Set(rows.map(r => r.date))].sort();
    const shown = [...box.querySelectorAll(".chart-part")].map(f => f.dataset.currency);
    if (shown.join() !== currencies.join()) {
      box.replaceChildren(...currencies.map(c => el("figure", { class: "chart-part", "data-currency": c },
        el("figcaption", {}, `Amounts in ${c}`), el("div", { class: "chart short" },
          el("canvas", { id: "revenue-chart-" + c, role: "img", "aria-label": `Revenue and refunds per day in ${c}` })))));
    }
    for (const c of currencies) {
      const days = dates.map(date => rows.find(r => r.date === date && r.currency === c) || { date, revenue: "0", refunds: "0" });
      DashCharts.revenue($("revenue-chart-" + c), { currency: c, days: days.map(d => ({ date: d.date, revenue: Number(d.revenue), refunds: Number(d.refunds) })) });
    }
  }

  async function flashSales() {
    const page = await api("GET", "/api/v1/flash-sales?limit=20");
    sales = page.items;
    const rows = [];
    for (const sale of sales) {
      rows.push(el("tr", { class: "sale", "data-status": sale.status }, el("th", { colspan: 3, scope: "rowgroup" },
        el("span", { class: "sale-name" }, sale.name), " ", el("span", { class: "sale-state" }, ...saleState(sale)))));
      for (const item of sale.items) rows.push(el("tr", { class: "sale-item" }, cell(name(item.product_id)),
        cell(money(item.flash_price, item.currency), { class: "num" }), leftCell(sale, item)));
    }
    fillOr($("flash-rows"), rows, "No flash sales. Create one with POST /api/v1/flash-sales.");
    saleOptions();
    await saleChart();
  }

  // "active · ends in 57m 35s": the countdowns tick every second (below).
  function saleState(sale) {
    if (sale.status === "scheduled") return ["scheduled · starts in ", el("span", { class: "countdown", "data-until": sale.starts_at }, countdown(sale.starts_at))];
    if (sale.status === "active") return ["active · ends in ", el("span", { class: "countdown", "data-until": sale.ends_at }, countdown(sale.ends_at))];
    return [sale.status];
  }

  // Units left of those allocated; an ended sale gave its unsold units back to stock (0 left
  // would read as sold out).
  function leftCell(sale, item) {
    if (sale.status === "ended")
      return cell("–", { class: "num remaining", title: "the sale is over: its unsold units went back to stock" });
    return cell(`${item.remaining_stock} of ${item.allocated_stock}`, { class: "num remaining" });
  }

  // Units sold while a sale runs; once it ends its unsold units go back to stock (remaining 0).
  const selling = sale => sale.status === "active" && sale.items.some(i => i.remaining_stock < i.allocated_stock);
  // What changes when a purchase lands or the sale moves on: the chart reads purchases again only then.
  const state = sale => sale.status + ":" + sale.items.map(i => i.remaining_stock).join(",");

  // The picker lists every sale; left alone it shows the live sale that is selling, else the
  // latest sale that has started (a sale that has not started yet has nothing to draw).
  function saleOptions() {
    const select = $("chart-sale"), chosen = select.value;
    select.replaceChildren(...sales.map(s => el("option", { value: s.id }, `${s.name} (${s.status})`)));
    const byStart = sales.slice().sort((a, b) => ms(b.starts_at) - ms(a.starts_at));
    const fallback = byStart.find(selling) || byStart.find(s => s.status !== "scheduled") || byStart[0];
    if (chosen && sales.some(s => s.id === chosen)) select.value = chosen;
    else if (fallback) select.value = fallback.id;
  }

  async function purchasesOf(sale) {
    const all = [];
    let cursor = null;
    for (let i = 0; i < PURCHASE_PAGES; i++) {
      const page = await api("GET", `/api/v1/flash-sales/${sale.id}/purchases?limit=500` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
      all.push(...page.items);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    return all.sort((a, b) => ms(a.created_at) - ms(b.created_at));
  }

  async function saleChart() {
    const sale = sales.find(s => s.id === $("chart-sale").value);
    if (!sale) { $("sale-chart-note").textContent = "No flash sales."; return; }
    const start = ms(sale.starts_at), end = Math.min(Date.now(), ms(sale.ends_at));
    let cached = saleSeries.get(sale.id);
    if (!cached || cached.state !== state(sale)) {
      const purchases = await purchasesOf(sale);
      const series = sale.items.map(item => {
        let units = 0;
        const points = [{ x: start, y: 0 }];
        for (const p of purchases) if (p.product_id === item.product_id) points.push({ x: ms(p.created_at), y: (units += p.quantity) });
        return { name: name(item.product_id), points, units };
      });
      cached = { state: state(sale), series, units: series.reduce((n, x) => n + x.units, 0) };
      saleSeries.set(sale.id, cached);
    }
    const series = cached.series.map(s => ({ ...s, points: [...s.points, { x: Math.max(end, start), y: s.units }] }));
    DashCharts.sale($("sale-chart"), { series, start, end: Math.max(end, start + 60000) });
    const units = `${cached.units} unit${cached.units === 1 ? "" : "s"}`;
    $("sale-chart-note").textContent = sale.status === "scheduled"
      ? `${sale.name} starts ${stamp(sale.starts_at)}: nothing sold yet.`
      : `${sale.name}: ${units} sold since ${stamp(sale.starts_at)}.`;
  }

  async function priceChart() {
    const id = $("chart-product").value;
    if (!id) return;
    const product = products.get(id) || {};
    const page = await api("GET", `/api/v1/products/${id}/price-history?limit=500`);
    const history = page.items.slice().reverse().map(h => ({ t: ms(h.changed_at), price: Number(h.new_price),
      source: h.source, reason: h.reason, move: h.old_price !== null }));
    const competitors = new Map();
    try {
      const comp = await api("GET", `/api/v1/competitor-prices?product_id=${id}&limit=500`);
      for (const o of comp.items) {
        if (!competitors.has(o.competitor)) competitors.set(o.competitor, []);
        competitors.get(o.competitor).push({ x: ms(o.observed_at), y: Number(o.price) });
      }
      for (const points of competitors.values()) points.sort((a, b) => a.x - b.x);
    } catch (e) { if (e.status !== 404) throw e; }
    DashCharts.price($("price-chart"), { history, competitors, currency: product.currency, now: Date.now() });
    $("price-chart").dataset.product = id;
    // The axis starts at our first price (see DashCharts.price); say so where it cuts competitors short.
    const since = history.length ? history[0].t : null;
    const earlier = since !== null && [...competitors.values()].some(points => points.some(p => p.x < since));
    $("price-chart-note").textContent = since === null ? "No price recorded for this product yet."
      : `Our price since ${stamp(since)}` + (earlier ? "; competitors seen before then start at the last price seen." : ".");
  }

  // "Competitor undercut · Wireless Earbuds", and under it what raised it and when.
  const signalCell = s => el("td", { class: "wrap", title: s.type }, el("strong", {}, SIGNALS[s.type] || s.type),
    s.product_id ? ` · ${name(s.product_id)}` : "",
    el("span", { class: "note" }, `${signalDetails(s, currencyOf(s.product_id))} · ${stamp(s.created_at)}`));

  async function signals() {
    const page = await api("GET", "/api/v1/signals?status=open&limit=20");
    fillOr($("signal-rows"), page.items.map(s => el("tr", { "data-type": s.type }, signalCell(s),
      cell(s.severity, { class: "sev-" + s.severity }),
      el("td", {}, el("button", { type: "button", class: "ack", onclick: () => act(`/api/v1/signals/${s.id}/acknowledge`) }, "Acknowledge")))),
      "No open signals: competitor prices, stock and demand raise them as they arrive.");
  }

  // Checkout sessions and orders per agent key (docs/agents.md#analytics): shown once an agent has made a
  // session or an order (a flash purchase among them).
  async function agents() {
    const report = await api("GET", "/api/v1/analytics/agents");
    if (!report.agents.length) throw Object.assign(new Error("no agent sessions"), { status: 404 });
    fillOr($("agent-rows"), report.agents.map(a => el("tr", { "data-key": a.key_id }, cell(a.name),
      cell(String(a.created), { class: "num" }), cell(String(a.completed), { class: "num" }),
      cell(String(a.abandoned), { class: "num" }), cell(String(a.expired), { class: "num" }),
      cell(a.created ? (Number(a.conversion) * 100).toFixed(1) + " %" : "–", { class: "num" }),
      cell(String(a.orders), { class: "num" }), cell(String(a.flash_purchases), { class: "num" }))),
      "No agent sessions.");
  }

  async function decisions() {
    const page = await api("GET", "/api/v1/decisions?limit=10");
    fillOr($("decision-rows"), page.items.map(d => el("tr", {},
      cell(name(d.product_id)), cell(`${money(d.old_price)} → ${money(d.recommended_price, currencyOf(d.product_id))}`, { class: "num" }),
      cell(signed(d.change_percent) + " %", { class: "num" }), cell(why(d)), cell(d.status),
      el("td", {}, d.status === "proposed"
        ? el("button", { type: "button", class: "apply", onclick: () => act(`/api/v1/decisions/${d.id}/apply`) }, "Apply") : ""))),
      "No decisions yet: they come from POST /api/v1/decisions/run, or every DECISION_INTERVAL_MINUTES when set.");
  }

  async function experiments() {
    const data = await api("GET", "/api/v1/experiments");
    const list = Array.isArray(data) ? data : (data.items || []);
    const rows = [];
    for (const x of list) for (const v of (x.variants || [])) rows.push(el("tr", {},
      cell(x.key), cell(x.status), cell(v.key === x.control && v.key !== "control" ? `${v.key} (control)` : v.key),
      cell(v.exposures, { class: "num" }), cell(v.conversion_rate + " %", { class: "num" }),
      cell(v.lift === null ? "–" : signed(v.lift) + " %", { class: "num" }),
      cell(v.ci95 ? `${signed(v.ci95[0])} to ${signed(v.ci95[1])}` : "–", { class: "num" })));
    fillOr($("experiment-rows"), rows, "No experiments.");
    const box = $("experiment-charts");
    if ([...box.children].map(f => f.dataset.key).join() !== list.map(x => x.key).join()) {
      box.replaceChildren(...list.map(x => el("figure", { class: "chart-part", "data-key": x.key },
        el("figcaption", {}, `${x.key}: conversion per variant`), el("div", { class: "chart short" },
          el("canvas", { id: "experiment-chart-" + x.key, role: "img", "aria-label": `Conversion per variant of ${x.key} with 95 % intervals` })))));
    }
    for (const x of list) DashCharts.experiment(box.querySelector(`[data-key="${CSS.escape(x.key)}"] canvas`), x);
  }

  // A button's action: its answer or refusal is said in the message line, then every panel redraws.
  async function act(path) {
    const message = $("message");
    try { await api("POST", path, {}); message.textContent = ""; }
    catch (e) { message.textContent = e.message; message.className = "message error"; }
    await tick(true);
  }

  async function tick(force) {
    if (busy && !force) return;
    busy = true;
    try {
      if (products.size === 0) await loadProducts();
      const s = await summary();
      if (!$("chart-product").dataset.touched && s.recent_price_moves.length && !$("price-chart").dataset.product) {
        $("chart-product").value = s.recent_price_moves[0].product_id;
      }
      await Promise.all([flashSales(), priceChart(), optional("panel-signals", signals),
        optional("panel-decisions", decisions), optional("panel-experiments", experiments), optional("panel-agents", agents)]);
      $("status").textContent = "Updated " + new Date().toLocaleTimeString();
    } catch (e) {
      $("status").textContent = "Update failed: " + e.message;
    } finally {
      busy = false;
    }
  }

  $("chart-product").addEventListener("change", () => { $("chart-product").dataset.touched = "1"; priceChart(); });
  $("chart-sale").addEventListener("change", () => saleChart());
  setInterval(() => {
    for (const c of document.querySelectorAll(".countdown")) c.textContent = countdown(c.dataset.until);
  }, 1000);
  tick();
  setInterval(() => { if (!document.hidden) tick(); }, POLL_MS);
})();
