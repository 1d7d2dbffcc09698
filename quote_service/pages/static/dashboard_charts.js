"use strict";
// The dashboard's charts, drawn by the vendored Chart.js (static/vendor/chart.js-4.6.1). Each
// canvas gets its chart once; every poll replaces the data and redraws without animation.
const DashCharts = (() => {
  const SOURCE_COLORS = { manual: "#1f77b4", rule: "#9467bd", inventory: "#d62728", campaign: "#b35900",
                          decision: "#2ca02c", flash_sale: "#c2185b" };
  const SOURCE_SHAPES = { manual: "circle", rule: "rectRot", inventory: "triangle", campaign: "rect",
                          decision: "star", flash_sale: "crossRot" };
  const COMPETITOR_COLORS = ["#7f7f7f", "#17becf", "#bcbd22", "#8c564b", "#e377c2", "#5c5c5c"];
  const SERIES_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf"];
  Chart.defaults.font.family = "system-ui, sans-serif";
  Chart.defaults.animation = false; // redrawn every poll: animating each redraw would only flicker
  Chart.defaults.maintainAspectRatio = false;
  // A price holds until its next move: Chart.js's stepped "before" draws each point's level up to
  // that point, then the rise ("after" would draw the rise at the earlier point: a move early).
  const HOLDS = "before";

  const { clock, stamp } = QS;
  const MINUTE = 60_000, DAY = 86_400_000;
  const when = v => new Date(v).toLocaleString([], { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
  // A linear axis of milliseconds from `min` to `max`, its ticks as precise as its span needs:
  // seconds over a few minutes, the time within a day, the day and time beyond.
  function timeAxis(min, max) {
    const span = max - min;
    const tick = span < 10 * MINUTE ? v => clock(v, true) : span < DAY ? v => clock(v) : when;
    return { type: "linear", min, max, ticks: { callback: tick, maxTicksLimit: 6, maxRotation: 0 } };
  }

  function draw(canvas, config) {
    const chart = Chart.getChart(canvas);
    if (!chart || chart.config.type !== config.type) {
      if (chart) chart.destroy();
      return new Chart(canvas, config);
    }
    chart.data = config.data;
    chart.options = config.options;
    chart.update("none");
    return chart;
  }

  // A competitor's observed prices ({x, y}, in time order) from `start` to `now`, each holding until
  // the next (a step line, as ours): the last one seen before `start` enters at `start`, the last
  // one runs on to `now`. Every point keeps `seen`, when it was observed; only real ones are dotted.
  function observedLine(points, start, now) {
    const earlier = points.filter(p => p.x < start);
    const line = points.filter(p => p.x >= start).map(p => ({ ...p, seen: p.x }));
    if (earlier.length) line.unshift({ ...earlier[earlier.length - 1], x: start, seen: earlier[earlier.length - 1].x });
    if (line.length) line.push({ ...line[line.length - 1], x: now });
    return line;
  }

  // Our price as a step line (a price holds until the next move), each move marked in its
  // source's colour and shape, and every competitor's observations dashed. The axis starts at our
  // first price (the product's creation): before it we had no price to compare, and competitor
  // prices observed earlier would squeeze ours into the right-hand edge.
  function price(canvas, { history, competitors, currency, now }) {
    const line = history.map(h => ({ x: h.t, y: h.price }));
    if (line.length) line.push({ x: now, y: line[line.length - 1].y });
    const observed = [...competitors.values()].flat().map(p => p.x);
    const start = line.length ? line[0].x : Math.min(now, ...observed);
    const datasets = [{ label: "our price", data: line, stepped: HOLDS, borderColor: "#222", borderWidth: 2, pointRadius: 0 }];
    const moves = history.filter(h => h.move);
    for (const source of [...new Set(moves.map(m => m.source))].sort()) {
      datasets.push({ label: `move: ${source}`, showLine: false, pointRadius: 6, pointHoverRadius: 8,
        pointStyle: SOURCE_SHAPES[source] || "circle", backgroundColor: SOURCE_COLORS[source] || "#555",
        borderColor: SOURCE_COLORS[source] || "#555",
        data: moves.filter(m => m.source === source).map(m => ({ x: m.t, y: m.price, reason: m.reason })) });
    }
    [...competitors.entries()].sort().forEach(([name, points], i) => {
      const color = COMPETITOR_COLORS[i % COMPETITOR_COLORS.length];
      datasets.push({ label: `competitor: ${name}`, data: observedLine(points, start, now), stepped: HOLDS,
        borderColor: color, backgroundColor: color, borderDash: [6, 4], borderWidth: 1.5,
        pointRadius: ctx => ctx.raw && ctx.raw.seen === ctx.raw.x ? 2.5 : 0 });
    });
    return draw(canvas, { type: "line", data: { datasets }, options: {
      parsing: true, interaction: { mode: "nearest", intersect: false },
      // From our first price to now: the axis's own rounding would leave empty margins.
      // (A span of zero, a product created this instant, gets a minute so the axis can be drawn.)
      scales: { x: timeAxis(start, now > start ? now : start + MINUTE), y: { title: { display: true, text: currency || "" } } },
      plugins: { tooltip: { callbacks: {
        title: items => items.length ? stamp(items[0].parsed.x) : "",
        label: item => `${item.dataset.label}: ${item.parsed.y.toFixed(2)} ${currency || ""}`
          + (item.raw.reason ? ` (${item.raw.reason})` : "")
          + (item.raw.seen !== undefined && item.raw.seen !== item.raw.x ? ` (seen ${stamp(item.raw.seen)})` : ""),
      } } },
    } });
  }

  // One chart per currency: revenue and refunds side by side on each of the days.
  const dayLabel = date => new Date(date + "T00:00:00Z").toLocaleDateString([], { month: "short", day: "numeric", timeZone: "UTC" });
  function revenue(canvas, { currency, days }) {
    return draw(canvas, { type: "bar", data: {
      labels: days.map(d => dayLabel(d.date)),
      datasets: [
        { label: `revenue (${currency})`, data: days.map(d => d.revenue), backgroundColor: "#1f77b4" },
        { label: `refunds (${currency})`, data: days.map(d => d.refunds), backgroundColor: "#d62728" },
      ] }, options: { scales: { x: { ticks: { maxRotation: 0, autoSkipPadding: 8 } }, y: { beginAtZero: true } },
      plugins: { tooltip: { callbacks: { label: item => `${item.dataset.label}: ${item.parsed.y.toFixed(2)}` } } } } });
  }

  // Cumulative units sold per product of the sale, from its start to now (or its end).
  function sale(canvas, { series, start, end }) {
    const datasets = series.map((s, i) => ({ label: s.name, data: s.points, stepped: HOLDS, pointRadius: 0,
      borderColor: SERIES_COLORS[i % SERIES_COLORS.length], backgroundColor: SERIES_COLORS[i % SERIES_COLORS.length] }));
    return draw(canvas, { type: "line", data: { datasets }, options: {
      // Whole units: a sale that sold nothing yet has no 0.1 of a unit to show.
      scales: { x: timeAxis(start, end), y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "units sold" } } },
      plugins: { tooltip: { callbacks: { title: items => items.length ? stamp(items[0].parsed.x) : "" } } },
    } });
  }

  // Conversion per variant as bars; over each non-control variant a thin bar spans the control's
  // conversion plus the 95 % interval of the difference (ci95, percentage points): where it
  // leaves the control's level, the difference is significant at that level.
  function experiment(canvas, { control, variants }) {
    const base = Number((variants.find(v => v.key === control) || variants[0]).conversion_rate);
    return draw(canvas, { type: "bar", data: {
      labels: variants.map(v => v.key),
      datasets: [
        // `order` 1 is drawn under `order` 0: the interval stays visible over the bar.
        { label: "conversion %", data: variants.map(v => Number(v.conversion_rate)), backgroundColor: "#9ecae1", grouped: false,
          order: 1, maxBarThickness: 120 },
        { label: "95 % CI (control + difference)", grouped: false, order: 0, maxBarThickness: 8, backgroundColor: "#08306b",
          data: variants.map(v => v.ci95 ? [base + Number(v.ci95[0]), base + Number(v.ci95[1])] : null) },
      ] }, options: { scales: { y: { beginAtZero: true, title: { display: true, text: "% of quotes ordered" } } },
      // The legend in the datasets' order (Chart.js would sort it by `order`, the interval first).
      plugins: { legend: { labels: { sort: (a, b) => a.datasetIndex - b.datasetIndex } },
        tooltip: { callbacks: { label: item => Array.isArray(item.raw)
        ? `95 % CI: ${item.raw[0].toFixed(2)} – ${item.raw[1].toFixed(2)} %` : `conversion: ${item.raw} %` } } } } });
  }

  return { price, revenue, sale, experiment };
})();
