"use strict";
// The admin dashboard: polls the JSON API every POLL_MS and redraws each panel.
(() => {
  const POLL_MS = 2000;
  const { api, el, money, countdown, fill } = QS;
  const $ = id => document.getElementById(id);
  const products = new Map();
  let sales = [];

  // A panel whose endpoint answers 404 (that part of the service is not deployed) stays hidden.
  async function optional(panelId, load) {
    const panel = $(panelId);
    try { await load(); panel.hidden = false; }
    catch (e) { if (e.status === 404) panel.hidden = true; else throw e; }
  }

  async function summary() {
    const s = await api("GET", "/api/v1/dashboard/summary");
    $("kpi-quotes").textContent = s.quotes_last_hour;
    $("kpi-orders").textContent = s.orders_last_hour;
    $("kpi-conversion").textContent = s.conversion_rate === null ? "–" : s.conversion_rate + " %";
    $("kpi-revenue").textContent = s.today.length ? s.today.map(m => money(m.revenue, m.currency)).join(", ") : "0";
    $("kpi-commission").textContent = s.today.length ? s.today.map(m => money(m.commission, m.currency)).join(", ") : "0";
    const refunded = s.today.filter(m => m.refund_count > 0);
    $("kpi-refunds").textContent = refunded.length
      ? refunded.map(m => `${money(m.refunds, m.currency)} (${m.refund_count})`).join(", ") : "0";
    fill($("move-rows"), s.recent_price_moves.map(m => el("tr", { class: "move", "data-source": m.source },
      el("td", {}, new Date(m.changed_at).toLocaleTimeString()),
      el("td", {}, m.product_name),
      el("td", {}, `${m.old_price === null ? "–" : money(m.old_price)} → ${money(m.new_price, m.currency)}`),
      el("td", {}, el("span", { class: "tag " + m.source }, m.source)),
      el("td", {}, m.reason))));
    revenueChart(s.revenue_per_day);
  }

  // One bar chart per currency: amounts in two currencies are never drawn on one scale.
  function revenueChart(days) {
    const box = $("revenue-chart");
    const currencies = [...new Set(days.map(d => d.currency))].sort();
    if (currencies.length === 0) return Charts.bars(box, []);
    box.replaceChildren(...currencies.map(currency => {
      const chart = el("div", {});
      Charts.bars(chart, days.filter(d => d.currency === currency).map(d => ({ label: d.date, v: Number(d.revenue) })));
      return el("figure", { class: "chart-part", "data-currency": currency }, el("figcaption", {}, currency), chart);
    }));
  }

  async function flashSales() {
    const page = await api("GET", "/api/v1/flash-sales?limit=10");
    sales = page.items;
    const rows = [];
    for (const sale of sales) for (const item of sale.items) {
      const until = sale.status === "scheduled" ? sale.starts_at : sale.ends_at;
      rows.push(el("tr", {},
        el("td", {}, sale.name), el("td", {}, sale.status),
        el("td", {}, (products.get(item.product_id) || {}).name || item.product_id.slice(0, 8)),
        el("td", {}, money(item.flash_price, item.currency)),
        el("td", { class: "remaining" }, `${item.remaining_stock} / ${item.allocated_stock}`),
        el("td", { class: "countdown", "data-until": until }, (sale.status === "scheduled" ? "starts in " : "") + countdown(until))));
    }
    fill($("flash-rows"), rows.length ? rows : [el("tr", {}, el("td", { colspan: 6 }, "No flash sales."))]);
    const live = sales.find(s => s.status === "active") || sales[0];
    if (live) await saleChart(live);
  }

  async function saleChart(sale) {
    const page = await api("GET", `/api/v1/flash-sales/${sale.id}/purchases?limit=100`);
    const points = page.items.slice().reverse();
    let units = 0;
    const series = [{ name: "units", color: "#e377c2", step: true, marks: false,
      points: [{ t: new Date(sale.starts_at).getTime(), v: 0 }].concat(points.map(p => ({ t: new Date(p.created_at).getTime(), v: (units += p.quantity) }))) }];
    Charts.lines($("sale-chart"), series);
  }

  async function signals() {
    const page = await api("GET", "/api/v1/signals?status=open&limit=20");
    fill($("signal-rows"), page.items.map(s => el("tr", {},
      el("td", {}, s.type), el("td", {}, (products.get(s.product_id) || {}).name || s.product_id || "–"),
      el("td", {}, s.severity),
      el("td", {}, el("button", { type: "button", class: "ack", onclick: async () => {
        await api("POST", `/api/v1/signals/${s.id}/acknowledge`, {}); await tick(); } }, "Acknowledge")))));
  }

  async function decisions() {
    const page = await api("GET", "/api/v1/decisions?limit=10");
    fill($("decision-rows"), page.items.map(d => el("tr", {},
      el("td", {}, (products.get(d.product_id) || {}).name || d.product_id),
      el("td", {}, `${money(d.old_price)} → ${money(d.recommended_price)}`),
      el("td", {}, (d.reasons || []).join(", ")), el("td", {}, d.status),
      el("td", {}, d.status === "proposed" ? el("button", { type: "button", class: "apply", onclick: async () => {
        try { await api("POST", `/api/v1/decisions/${d.id}/apply`, {}); } catch (e) { alert(e.message); }
        await tick(); } }, "Apply") : ""))));
  }

  async function experiments() {
    const data = await api("GET", "/api/v1/experiments");
    const list = Array.isArray(data) ? data : (data.items || []);
    const rows = [];
    for (const x of list) for (const v of (x.variants || [])) rows.push(el("tr", {},
      el("td", {}, x.key), el("td", {}, x.status), el("td", {}, v.key),
      el("td", {}, v.exposures), el("td", {}, v.conversion_rate + " %")));
    fill($("experiment-rows"), rows);
  }

  async function loadProducts() {
    const page = await api("GET", "/api/v1/products?limit=100");
    const select = $("chart-product"), chosen = select.value;
    for (const p of page.items) products.set(p.id, p);
    select.replaceChildren(...page.items.map(p => el("option", { value: p.id }, p.name)));
    if (chosen) select.value = chosen;
  }

  async function priceChart() {
    const id = $("chart-product").value;
    if (!id) return;
    const page = await api("GET", `/api/v1/products/${id}/price-history?limit=100`);
    const moves = page.items.slice().reverse();
    const series = [{ name: "our price", color: Charts.COLORS.line, step: true, marks: true,
      points: moves.map(m => ({ t: new Date(m.changed_at).getTime(), v: Number(m.new_price), source: m.source })) }];
    if (moves.length) series[0].points.push({ t: Date.now(), v: series[0].points[series[0].points.length - 1].v });
    try {
      const comp = await api("GET", `/api/v1/competitor-prices?product_id=${id}&limit=200`);
      const by = new Map();
      for (const o of comp.items) {
        if (!by.has(o.competitor)) by.set(o.competitor, []);
        by.get(o.competitor).push({ t: new Date(o.observed_at).getTime(), v: Number(o.price) });
      }
      for (const [name, pts] of by) series.push({ name, color: Charts.COLORS.competitor, dashed: true, marks: false, points: pts.sort((a, b) => a.t - b.t) });
    } catch (e) { if (e.status !== 404) throw e; }
    Charts.lines($("price-chart"), series);
    const sources = [...new Set(moves.map(m => m.source))];
    $("price-legend").replaceChildren(...sources.map(s => el("span", { class: "tag " + s }, s)),
      series.length > 1 ? el("span", { class: "tag competitor" }, "competitors (dashed)") : "");
  }

  async function tick() {
    try {
      if (products.size === 0) await loadProducts();
      await summary();
      await flashSales();
      await priceChart();
      await optional("panel-signals", signals);
      await optional("panel-decisions", decisions);
      await optional("panel-experiments", experiments);
      $("status").textContent = "Updated " + new Date().toLocaleTimeString();
    } catch (e) {
      $("status").textContent = "Update failed: " + e.message;
    }
  }

  $("chart-product").addEventListener("change", () => priceChart());
  setInterval(() => {
    for (const c of document.querySelectorAll(".countdown")) {
      const prefix = c.textContent.startsWith("starts in") ? "starts in " : "";
      c.textContent = prefix + countdown(c.dataset.until);
    }
  }, 1000);
  tick();
  setInterval(() => { if (!document.hidden) tick(); }, POLL_MS);
})();
