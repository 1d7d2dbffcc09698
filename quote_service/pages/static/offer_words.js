"use strict";
// Promotions and price lists in words, for the books page: "Buy 2 from grocery, get 1 free",
// "5 % off, at most 250.00 TRY", "baskets from 3000.00 TRY", "Jan 1, 2020 → open-ended".
// `names` maps the product ids a promotion names to the products' names (ids it lacks stay ids).
const OfferWords = (() => {
  const { money, stamp } = QS;
  const or = values => values.length > 1 ? `${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}` : values[0] || "";
  const products = (ids, names) => (ids || []).map(id => names.get(id) || id);

  // What a buy or get part of BUY_X_GET_Y counts: its categories and its products.
  const scope = (part, names) => or([...(part.category_ids || []), ...products(part.product_ids, names)]);

  function buyXGetY(config, names) {
    const { buy = {}, get = {} } = config;
    const from = scope(buy, names), getFrom = scope(get, names);
    const percent = get.percent_off === undefined ? 100 : Number(get.percent_off);
    const gift = percent >= 100 ? "free" : `at ${get.percent_off} % off`;
    const words = `Buy ${buy.quantity}${from ? ` from ${from}` : ""}, get ${get.quantity}`
      + `${getFrom && getFrom !== from ? ` from ${getFrom}` : ""} ${gift}`;
    const dearest = config.selection === "most_expensive" ? " (the most expensive)" : "";
    return words + dearest + (config.max_applications ? `, at most ${config.max_applications} times a basket` : "");
  }

  // docs/promotions.md#merchandisers-promotions: "Any 3 from books for 750.00 TRY",
  // "Spend 500.00 TRY: 40.00 TRY off; spend 1000.00 TRY: 100.00 TRY off", "A gift: 1 × Tea glasses".
  function tiers(config) {
    return (config.tiers || []).map((t, i) => `${i ? "spend" : "Spend"} ${money(t.min_subtotal, config.currency)}: `
      + (t.amount !== undefined && t.amount !== null ? `${money(t.amount, config.currency)} off` : `${t.percent} % off`)).join("; ");
  }

  function kindWords(p, c, names) {
    switch (p.kind) {
      case "FIXED_PRICE_BUNDLE": return `Any ${c.quantity}${scope(c, names) ? ` from ${scope(c, names)}` : ""} for ${money(c.price, c.currency)}`;
      case "SPEND_TIERS": return tiers(c);
      case "GIFT": return `A gift: ${c.quantity || 1} × ${products([c.product_id], names)[0]}`
        + (c.min_subtotal ? ` with baskets from ${money(c.min_subtotal, c.currency)}` : "");
      default: return p.kind;
    }
  }

  // The deal itself; the basket's currency (conditions.currency) names the money a percent is capped in.
  function offer(p, names) {
    const c = p.config || {};
    switch (p.kind) {
      case "PERCENT_OFF":
        return `${c.percent} % off` + (c.max_discount ? `, at most ${money(c.max_discount, p.conditions.currency)}` : "");
      case "AMOUNT_OFF": return `${money(c.amount, c.currency)} off`;
      case "BUY_X_GET_Y": return buyXGetY(c, names);
      case "FREE_DELIVERY": return "Free delivery";
      default: return kindWords(p, c, names);
    }
  }

  // With the fields every kind takes: spread evenly, one of a group, a money budget.
  function offerInFull(p, names) {
    const c = p.config || {};
    const parts = [offer(p, names)];
    if (c.distribution === "even") parts.push("spread evenly over its lines");
    if (p.group) parts.push(`the best of group ${p.group}`);
    if (p.budget) parts.push(`budget ${money(p.budget_used, p.budget.currency)} of ${money(p.budget.amount, p.budget.currency)} used`);
    if (p.per_customer_limit) parts.push(`${p.per_customer_limit} order${p.per_customer_limit > 1 ? "s" : ""} a customer`);
    return parts.join("; ");
  }

  // Who gets it: every condition given, in words; none given is every basket.
  function conditions(p, names) {
    const k = p.conditions || {};
    const parts = [];
    if (k.min_subtotal) parts.push(`baskets from ${money(k.min_subtotal, k.currency)}`);
    else if (k.currency) parts.push(`baskets in ${k.currency}`);
    const lines = [...(k.category_ids || []), ...products(k.product_ids, names)];
    if (lines.length) parts.push(`on ${or(lines)} only`);
    if ((k.customer_groups || []).length) parts.push(`customer group ${or(k.customer_groups)}`);
    if ((k.customer_segments || []).length) parts.push(`segment ${or(k.customer_segments)}`);
    if ((k.channels || []).length) parts.push(`channel ${or(k.channels)}`);
    return parts.join("; ") || "every basket";
  }

  // What it stacks with (a promotion that combines with neither is used alone).
  function combines(p) {
    const parts = [p.combinable ? "promotions" : "", p.combines_with_coupons ? "coupons" : ""].filter(Boolean);
    return parts.length ? parts.join(" and ") : "nothing";
  }

  // When it is in effect, compactly, as its ends: ["Jan 1, 2020", "open-ended"] reads
  // "Jan 1, 2020 → open-ended" (a page may break the line at the arrow, never inside an end).
  function inEffectEnds(from, to) {
    if (!from && !to) return ["always"];
    if (!from) return [`until ${stamp(to)}`];
    return [stamp(from), to ? stamp(to) : "open-ended"];
  }

  // Every product id a promotion names (to look their names up once).
  function productIds(p) {
    const c = p.config || {};
    return [...(p.conditions.product_ids || []), ...((c.buy || {}).product_ids || []), ...((c.get || {}).product_ids || []),
      ...(c.product_ids || []), ...(c.product_id ? [c.product_id] : [])];
  }

  return { offer, offerInFull, conditions, combines, inEffectEnds, productIds };
})();
