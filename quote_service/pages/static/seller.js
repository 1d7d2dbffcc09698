"use strict";
// The seller page: its own products' prices and stock (saved through the API as the seller), its
// offers of other sellers' products (docs/offers.md), promotions, its statement, its balance and payouts (docs/sellers.md). Everything it shows is the seller's own.
(() => {
  const { api, el, money, cell, fillOr, fillTotals } = QS;
  const $ = id => document.getElementById(id);
  const DAY_MS = 86400000;
  let seller = null;

  function say(text, ok) {
    const message = $("message");
    message.textContent = text;
    message.className = "message " + (ok ? "ok" : "error");
  }

  const input = (value, label, attrs) => el("input", { value, "aria-label": label, class: "num", ...(attrs || {}) });

  const refusal = error => (error.details || []).map(d => `${d.field} ${d.message}`).join("; ") || error.message;

  // One row's Save (docs/sellers.md#seller-accounts): `write` sends the row and answers what to say. The row's Save
  // waits until the rows are drawn again from the API, and only then is the outcome said: a row is saved
  // against the product as the row was drawn (a stock change is the typed stock less the stock drawn), so a
  // second Save from the row as it was, before the new rows replace it, would send its stock change twice.
  async function saveRow(button, name, write, redraw) {
    button.disabled = true;
    let done;
    try {
      done = await write();
    } catch (error) {
      say(`${name}: ${refusal(error)}`, false);
      button.disabled = false;
      return;
    }
    try {
      await redraw();
      say(done, true);
    } catch (error) {  // the row stays as drawn, its Save off: a Refresh draws it anew
      say(`${done} The list was not drawn again (${error.message}): press Refresh before the next change.`, false);
    }
  }

  function save(product, row, button) {
    const [price, floor, stock] = ["price", "floor", "stock"].map(name => row.querySelector(`[data-field=${name}]`).value.trim());
    return saveRow(button, product.sku, async () => {
      const delta = Number(stock) - product.stock;
      if (!Number.isInteger(delta)) throw new Error("stock must be a whole number");
      const change = {};
      if (price !== product.current_price) change.current_price = price;
      if (floor !== product.min_price) change.min_price = floor;
      let pending = null;
      if (Object.keys(change).length) {
        const answer = await api("PATCH", `/api/v1/products/${product.id}`, change);
        if (answer && answer.change_request_id) pending = answer.change_request_id;
      }
      if (delta) await api("POST", `/api/v1/products/${product.id}/stock`, { delta, reason: "seller page" });
      return pending ? `${product.sku}: the price change waits for the platform's approval (request ${pending}).`
        : `${product.sku} saved.`;
    }, products);
  }

  // docs/commission.md#payout-preview: the smallest price that pays the seller the amount asked.
  async function findPrice(event) {
    event.preventDefault();
    const product = $("payout-product").value;
    const body = { product_id: product, quantity: Number($("payout-quantity").value), target_payout: $("payout-target").value.trim() };
    const country = $("payout-country").value.trim();
    if (country) body.country = country;
    try {
      const p = await api("POST", `/api/v1/sellers/${encodeURIComponent(seller.seller_id)}/payout-preview`, body);
      const c = p.currency;
      fillTotals($("payout-totals"), [["Price", money(p.unit_price, c)], ["Goods", money(p.goods, c)],
        ["Tax", money(p.tax, c)], ["Commission", money(p.commission.total, c)],
        ...p.commission.fees.map(f => [`of which ${f.name.replaceAll("_", " ")}`, money(f.amount, c)]),
        ["Commission tax", money(p.commission_tax, c)], ["Delivery fee", money(p.delivery_fee, c)],
        ["Payout", money(p.payout, c)]]);
      say(`Priced at ${money(p.unit_price, c)} a unit, you are paid ${money(p.payout, c)}.`, true);
    } catch (error) {
      $("payout-totals").replaceChildren();
      const fields = (error.details || []).map(d => `${d.field} ${d.message}`).join("; ");
      say(error.code === "PAYOUT_UNREACHABLE" ? `No price pays that: ${fields}` : fields || error.message, false);
    }
  }

  async function products() {
    const page = await api("GET", "/api/v1/products?limit=500");
    const chosen = $("payout-product").value;
    $("payout-product").replaceChildren(...page.items.map(p => el("option", { value: p.id }, `${p.sku} (${p.name})`)));
    if (chosen) $("payout-product").value = chosen;
    fillOr($("product-rows"), page.items.map(p => {
      const row = el("tr", { class: "product", "data-sku": p.sku });
      row.append(cell(p.sku), cell(p.name), cell(p.currency),
        el("td", { class: "num" }, input(p.current_price, `Price of ${p.sku}`, { "data-field": "price", inputmode: "decimal" })),
        el("td", { class: "num" }, input(p.min_price, `Floor of ${p.sku}`, { "data-field": "floor", inputmode: "decimal" })),
        el("td", { class: "num" }, input(String(p.stock), `Stock of ${p.sku}`, { "data-field": "stock", inputmode: "numeric" })),
        el("td", {}, el("button", { type: "button", class: "save", onclick: event => save(p, row, event.currentTarget) }, "Save")));
      return row;
    }), "No products yet.");
  }

  // Its offers of other sellers' products (docs/offers.md): price, floor, stock and active, saved as one PATCH.
  function saveOffer(offer, row, button) {
    const value = name => row.querySelector(`[data-field=${name}]`).value.trim();
    const change = {};
    if (value("price") !== offer.current_price) change.current_price = value("price");
    if (value("floor") !== offer.min_price) change.min_price = value("floor");
    const stock = Number(value("stock"));
    if (stock !== offer.stock) change.stock = stock;
    const active = row.querySelector("[data-field=active]").checked;
    if (active !== offer.is_active) change.is_active = active;
    const name = `Your offer of ${offer.product_sku}`;
    return saveRow(button, name, async () => {
      if (!Number.isInteger(stock) || stock < 0) throw new Error("stock must be a whole number, 0 or more");
      const answer = await api("PATCH", `/api/v1/offers/${offer.id}`, change);
      return answer && answer.change_request_id
        ? `${name}: the price change waits for the platform's approval (request ${answer.change_request_id}).`
        : `${name} saved.`;
    }, offers);
  }

  async function offers() {
    const page = await api("GET", "/api/v1/offers?limit=500");
    fillOr($("offer-rows"), page.items.map(o => {
      const row = el("tr", { class: "offer", "data-offer": o.id });
      const active = el("input", { type: "checkbox", "aria-label": `Offer ${o.id} active`, "data-field": "active" });
      active.checked = o.is_active;
      // The product by its name and SKU; its id in the tooltip (the offer's product is another seller's).
      const product = el("td", { class: "product", title: `${o.product_name} · SKU ${o.product_sku} · id ${o.product_id}` },
        o.product_name, " ", el("span", { class: "muted" }, o.product_sku));
      row.append(product, cell(o.condition), cell(o.currency),
        el("td", { class: "num" }, input(o.current_price, `Price of offer ${o.id}`, { "data-field": "price", inputmode: "decimal" })),
        el("td", { class: "num" }, input(o.min_price, `Floor of offer ${o.id}`, { "data-field": "floor", inputmode: "decimal" })),
        el("td", { class: "num" }, input(String(o.stock), `Stock of offer ${o.id}`, { "data-field": "stock", inputmode: "numeric" })),
        el("td", {}, active),
        el("td", {}, el("button", { type: "button", class: "save", onclick: event => saveOffer(o, row, event.currentTarget) }, "Save")));
      return row;
    }), "No offers yet.");
  }

  async function promotions() {
    const page = await api("GET", "/api/v1/promotions?limit=500");
    const offer = p => p.kind === "PERCENT_OFF" ? `${p.config.percent} % off` : p.kind.toLowerCase().replaceAll("_", " ");
    fillOr($("promotion-rows"), page.items.map(p => el("tr", { class: "promotion" },
      cell(p.name), cell(offer(p)), cell(p.is_active ? "yes" : "no"))), "No promotions yet.");
  }

  // Every part of the payout, each under the sign it counts with (docs/sellers.md), so what the
  // panel shows adds up to its payout: gross sales − refunds + tax collected − tax refunded + the platform's
  // contribution − its reversal − net commission − commission tax + delivery fees.
  const STATEMENT_PARTS = [["Gross sales", "gross_sales"], ["− Refunds", "refunds"], ["+ Tax collected", "tax_collected"],
    ["− Tax refunded", "tax_refunded"], ["+ Platform contribution", "platform_contribution"],
    ["− Platform contribution reversed", "platform_contribution_reversed"], ["− Net commission", "net_commission"],
    ["− Commission tax", "commission_tax"], ["+ Delivery fees", "delivery_fees"], ["= Payout", "payout"]];

  async function statement() {
    const to = new Date(), from = new Date(to.getTime() - 29 * DAY_MS);
    const day = d => d.toISOString().slice(0, 10);
    const s = await api("GET", `/api/v1/sellers/${encodeURIComponent(seller.seller_id)}/statement?from=${day(from)}&to=${day(to)}`);
    fillTotals($("statement-totals"), [["Orders", String(s.orders)],
      ...STATEMENT_PARTS.map(([term, field]) => [term, money(s[field], s.currency)])]);
  }

  // Its balance now and its latest payouts (docs/payouts.md).
  async function payouts() {
    const [balance, made] = await Promise.all([Payouts.balance(seller.seller_id), Payouts.latest(20)]);
    fillTotals($("balance-totals"), Payouts.balancePairs(balance));
    fillOr($("payout-rows"), made.map(p => el("tr", { class: "payout", "data-status": p.status }, ...Payouts.payoutCells(p, false))),
      "No payouts yet: the platform pays your available balance once a cycle.");
  }

  async function load() {
    try {
      seller = await api("GET", "/api/v1/sellers/me");
      await Promise.all([products(), offers(), promotions(), statement(), payouts()]);
      $("status").textContent = `Acting for ${seller.seller_id}.`;
    } catch (error) {
      $("status").textContent = "";
      say(error.message, false);
    }
  }

  $("refresh").addEventListener("click", load);
  $("payout-form").addEventListener("submit", findPrice);
  load();
})();
