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

  const when = v => new Date(v).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  const timeAxis = { type: "linear", ticks: { callback: when, maxTicksLimit: 6, maxRotation: 0 } };

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

  const first = datasets => {
    const xs = datasets.flatMap(d => d.data.map(p => p.x));
    return xs.length ? Math.min(...xs) : undefined;
  };

  // Our price as a step line (a price holds until the next move), each move marked in its
  // source's colour and shape, and every competitor's observations dashed.
  function price(canvas, { history, competitors, currency, now }) {
    const line = history.map(h => ({ x: h.t, y: h.price }));
    if (line.length) line.push({ x: now, y: line[line.length - 1].y });
    const datasets = [{ label: "our price", data: line, stepped: "after", borderColor: "#222", borderWidth: 2, pointRadius: 0 }];
    const moves = history.filter(h => h.move);
    for (const source of [...new Set(moves.map(m => m.source))].sort()) {
      datasets.push({ label: `move: ${source}`, showLine: false, pointRadius: 6, pointHoverRadius: 8,
        pointStyle: SOURCE_SHAPES[source] || "circle", backgroundColor: SOURCE_COLORS[source] || "#555",
        borderColor: SOURCE_COLORS[source] || "#555",
        data: moves.filter(m => m.source === source).map(m => ({ x: m.t, y: m.price, reason: m.reason })) });
    }
    [...competitors.entries()].sort().forEach(([name, points], i) => {
      const color = COMPETITOR_COLORS[i % COMPETITOR_COLORS.length];
      datasets.push({ label: `competitor: ${name}`, data: points, borderColor: color, backgroundColor: color,
        borderDash: [6, 4], borderWidth: 1.5, pointRadius: 2 });
    });
    return draw(canvas, { type: "line", data: { datasets }, options: {
      parsing: true, interaction: { mode: "nearest", intersect: false },
      // From the first point shown to now: the axis's own rounding would leave empty margins.
      scales: { x: { ...timeAxis, min: first(datasets), max: now }, y: { title: { display: true, text: currency || "" } } },
      plugins: { tooltip: { callbacks: {
        title: items => items.length ? when(items[0].parsed.x) : "",
        label: item => `${item.dataset.label}: ${item.parsed.y.toFixed(2)} ${currency || ""}`
          + (item.raw.reason ? ` (${item.raw.reason})` : ""),
      } } },
    } });
  }

  // One chart per currency: revenue and refunds side by side on each of the days.
  function revenue(canvas, { currency, days }) {
    return draw(canvas, { type: "bar", data: {
      labels: days.map(d => d.date.slice(5)),
      datasets: [
        { label: `revenue (${currency})`, data: days.map(d => d.revenue), backgroundColor: "#1f77b4" },
        { label: `refunds (${currency})`, data: days.map(d => d.refunds), backgroundColor: "#d62728" },
      ] }, options: { scales: { y: { beginAtZero: true } } } });
  }

  // Cumulative units sold per product of the sale, from its start to now (or its end).
  function sale(canvas, { series, start, end }) {
    const datasets = series.map((s, i) => ({ label: s.name, data: s.points, stepped: "after", pointRadius: 0,
      borderColor: SERIES_COLORS[i % SERIES_COLORS.length], backgroundColor: SERIES_COLORS[i % SERIES_COLORS.length] }));
    return draw(canvas, { type: "line", data: { datasets }, options: {
      scales: { x: { ...timeAxis, min: start, max: end }, y: { beginAtZero: true, title: { display: true, text: "units sold" } } },
      plugins: { tooltip: { callbacks: { title: items => items.length ? when(items[0].parsed.x) : "" } } },
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
        { label: "conversion %", data: variants.map(v => Number(v.conversion_rate)), backgroundColor: "#9ecae1", grouped: false, order: 1 },
        { label: "95 % CI (control + difference)", grouped: false, order: 0, maxBarThickness: 8, backgroundColor: "#08306b",
          data: variants.map(v => v.ci95 ? [base + v.ci95[0], base + v.ci95[1]] : null) },
      ] }, options: { scales: { y: { beginAtZero: true, title: { display: true, text: "% of quotes ordered" } } },
      plugins: { tooltip: { callbacks: { label: item => Array.isArray(item.raw)
        ? `95 % CI: ${item.raw[0].toFixed(2)} – ${item.raw[1].toFixed(2)} %` : `conversion: ${item.raw} %` } } } } });
  }

  return { price, revenue, sale, experiment };
})();
