"use strict";
// The dashboard's signals and decisions in words a pricing analyst reads: "Competitor undercut:
// shopfast at 719.92 TRY, 20.00 % below us", "limited by max_step; market mean 521.13 (2
// competitors)", changes with a real minus sign.
const DashWords = (() => {
  // A change with its sign and two decimals: "+1.15", "−0.22" (a real minus, not a hyphen).
  const signed = x => (Number(x) < 0 ? "−" : "+") + Math.abs(Number(x)).toFixed(2);
  // Statistics come with four decimals; shown to the cent.
  const cents = value => Number(value).toFixed(2);

  const SIGNALS = { competitor_undercut: "Competitor undercut", competitor_price_drop: "Competitor price drop",
    competitor_price_increase: "Competitor price increase", price_anomaly: "Price anomaly",
    low_inventory: "Low inventory", demand_surge: "Demand surge" };

  // What raised a signal (its details), prices in the product's currency `c`.
  function signalDetails(s, c = "") {
    const d = s.details || {};
    switch (s.type) {
      case "competitor_undercut": return `${d.competitor} at ${cents(d.competitor_price)} ${c}, ${d.gap_percent} % below us`;
      case "competitor_price_drop": case "competitor_price_increase":
        return `market mean ${cents(d.previous_mean)} → ${cents(d.mean)} ${c} (${signed(d.change_percent)} %)`;
      case "price_anomaly": return `${d.competitor} at ${cents(d.price)} ${c}, usually ${cents(d.history_mean)}`;
      case "low_inventory": return `${d.stock} in stock`;
      case "demand_surge": return `${d.quotes_last_hour} quotes in the last hour` + (d.ratio ? `, ${d.ratio}× the usual` : "");
      default: return Object.entries(d).map(([k, v]) => `${k} ${v}`).join(", ");
    }
  }

  // What moved a decision: its reasons, the guardrails that bit, and the market it looked at.
  function why(d) {
    const parts = [...(d.reasons || []), ...(d.guardrails || []).map(g => "limited by " + g)];
    const market = d.inputs || {};
    const rivals = `${market.competitors} competitor${market.competitors === 1 ? "" : "s"}`;
    if (market.competitor_mean) parts.push(`market mean ${cents(market.competitor_mean)} (${rivals})`);
    return parts.join("; ") || "–";
  }

  return { SIGNALS, signalDetails, why, signed };
})();
