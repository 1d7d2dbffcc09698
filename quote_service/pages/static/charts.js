"use strict";
// Small hand-written SVG charts (no chart library): a step line with marked points, and bars.
const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 600, H = 220, PAD = 40;
  const COLORS = { manual: "#1f77b4", rule: "#9467bd", inventory: "#d62728", campaign: "#ff7f0e",
                   decision: "#2ca02c", flash_sale: "#e377c2", competitor: "#7f7f7f", line: "#333" };
  function svg(tag, attrs) {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    return n;
  }
  function frame(container, xs, ys) {
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", preserveAspectRatio: "xMidYMid meet" });
    const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    const ySpan = (y1 - y0) || Math.max(1, Math.abs(y1) * 0.1), xSpan = (x1 - x0) || 1;
    const lo = y0 - ySpan * 0.1, hi = y1 + ySpan * 0.1;
    const sx = x => PAD + (x - x0) / xSpan * (W - 2 * PAD);
    const sy = y => H - PAD + 10 - (y - lo) / (hi - lo) * (H - 2 * PAD);
    root.append(svg("line", { x1: PAD, y1: H - PAD + 10, x2: W - PAD, y2: H - PAD + 10, stroke: "#999" }));
    for (const v of [lo, (lo + hi) / 2, hi]) {
      const t = svg("text", { x: 2, y: sy(v) + 4, "font-size": 11, fill: "#555" });
      t.textContent = v.toFixed(2);
      root.append(t);
    }
    container.replaceChildren(root);
    return { root, sx, sy };
  }
  function empty(container, text) {
    container.replaceChildren(Object.assign(document.createElement("p"), { textContent: text, className: "muted" }));
  }
  // series: [{name, color, points: [{t, v, source?}], step: bool, marks: bool}]
  function lines(container, series) {
    const all = series.flatMap(s => s.points);
    if (all.length === 0) return empty(container, "No data yet.");
    const { root, sx, sy } = frame(container, all.map(p => p.t), all.map(p => p.v));
    for (const s of series) {
      if (s.points.length === 0) continue;
      let d = "";
      s.points.forEach((p, i) => {
        if (i === 0) d += `M${sx(p.t)},${sy(p.v)}`;
        else d += s.step ? `H${sx(p.t)}V${sy(p.v)}` : `L${sx(p.t)},${sy(p.v)}`;
      });
      root.append(svg("path", { d, fill: "none", stroke: s.color, "stroke-width": 2, "stroke-dasharray": s.dashed ? "4 3" : "" }));
      if (s.marks) for (const p of s.points) {
        const c = svg("circle", { cx: sx(p.t), cy: sy(p.v), r: 4, fill: COLORS[p.source] || s.color, "data-source": p.source || "" });
        const title = svg("title", {}); title.textContent = `${p.source || s.name}: ${p.v}`;
        c.append(title); root.append(c);
      }
    }
  }
  function bars(container, items) {
    if (items.length === 0) return empty(container, "No orders yet.");
    const max = Math.max(...items.map(i => i.v), 1);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%" });
    const bw = (W - 2 * PAD) / items.length;
    items.forEach((it, i) => {
      const h = it.v / max * (H - 2 * PAD);
      const r = svg("rect", { x: PAD + i * bw + 2, y: H - PAD - h, width: Math.max(bw - 4, 2), height: h, fill: "#1f77b4" });
      const title = svg("title", {}); title.textContent = `${it.label}: ${it.v.toFixed(2)}`;
      r.append(title); root.append(r);
      const t = svg("text", { x: PAD + i * bw + bw / 2, y: H - PAD + 14, "font-size": 10, "text-anchor": "middle", fill: "#555" });
      t.textContent = it.label.slice(5); root.append(t);
    });
    container.replaceChildren(root);
  }
  return { lines, bars, COLORS };
})();
