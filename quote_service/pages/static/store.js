"use strict";
// The store: browse, basket, quote with its breakdown, checkout (the basket's stock held for
// the quote's validity), order or leave the checkout (the hold released), flash purchases,
// cancel an order.
(() => {
  const { api, el, money, countdown } = QS;
  const $ = id => document.getElementById(id);
  const basket = new Map(); // product_id -> {product, quantity}
  const flash = new Map();  // product_id -> {sale, item}
  let me = null, lastQuote = null;
  const COUPON_REASONS = {
    NOT_FOUND: "no such coupon", INACTIVE: "this coupon is no longer active",
    NOT_STARTED: "this coupon is not valid yet", EXPIRED: "this coupon has expired",
    MIN_SUBTOTAL: "the basket is below this coupon's minimum", USAGE_LIMIT: "this coupon has been used up",
    NOT_APPLICABLE: "it does not apply to these products", DUPLICATE: "entered twice",
  };

  function say(text, kind) {
    const m = $("message");
    m.textContent = text;
    m.className = "message " + (kind || "");
  }

  async function loadFlash() {
    flash.clear();
    const page = await api("GET", "/api/v1/flash-sales?limit=20");
    for (const sale of page.items) if (sale.status === "active")
      for (const item of sale.items) flash.set(item.product_id, { sale, item });
  }

  function productCard(p) {
    const f = flash.get(p.id);
    const qty = el("input", { type: "number", min: 1, max: 99, value: 1, id: "qty-" + p.id, class: "qty" });
    const add = el("button", { type: "button", class: "add", onclick: () => {
      const q = Math.max(1, parseInt(qty.value, 10) || 1);
      const entry = basket.get(p.id) || { product: p, quantity: 0 };
      entry.quantity += q; basket.set(p.id, entry); drawBasket();
      say(`${p.name} added to the basket.`, "ok");
    } }, "Add to basket");
    const children = [
      el("h3", {}, p.name),
      el("p", { class: "muted" }, `${p.category_id} · ${p.sku}`),
      el("p", { class: "price" }, money(p.current_price, p.currency)),
    ];
    if (f) {
      children.push(el("p", { class: "flash" }, `Flash price ${money(f.item.flash_price, f.item.currency)} · `,
        el("span", { class: "countdown", "data-until": f.sale.ends_at }, countdown(f.sale.ends_at)),
        ` · ${f.item.remaining_stock} left`));
      children.push(el("button", { type: "button", class: "flash-buy", onclick: () => flashBuy(p, f, qty) }, "Buy at flash price"));
    }
    children.push(el("label", { for: "qty-" + p.id }, "Quantity"), qty, add);
    return el("li", { class: "product", "data-id": p.id, "data-name": p.name }, ...children);
  }

  async function loadProducts() {
    const q = $("q").value.trim(), cat = $("category").value;
    const params = new URLSearchParams({ limit: "100", is_active: "true" });
    if (q) params.set("q", q);
    if (cat) params.set("category_id", cat);
    const page = await api("GET", "/api/v1/products?" + params);
    $("products").replaceChildren(...page.items.map(productCard));
    if (!q && !cat) {
      const cats = [...new Set(page.items.map(p => p.category_id))].sort();
      $("category").replaceChildren(el("option", { value: "" }, "All"), ...cats.map(c => el("option", { value: c }, c)));
    }
  }

  function drawBasket() {
    const items = [...basket.values()];
    $("basket").replaceChildren(...(items.length ? items.map(({ product, quantity }) => el("li", { class: "basket-line" },
      `${quantity} × ${product.name} `,
      el("button", { type: "button", "aria-label": "Remove " + product.name, onclick: () => { basket.delete(product.id); drawBasket(); } }, "Remove")))
      : [el("li", { class: "muted" }, "The basket is empty.")]));
  }

  function row(label, value, cls) { return el("tr", { class: cls || "" }, el("th", { scope: "row" }, label), el("td", {}, value)); }

  function drawQuote(qt) {
    const c = qt.currency;
    const lines = el("table", { class: "lines" },
      el("thead", {}, el("tr", {}, ...["Product", "Qty", "Unit", "Discount", "Tax", "Line"].map(h => el("th", {}, h)))),
      el("tbody", {}, ...qt.items.map(l => el("tr", {},
        el("td", {}, (basket.get(l.product_id) || { product: { name: l.product_id } }).product.name),
        el("td", {}, l.quantity), el("td", {}, money(l.unit_price, c) + (l.price_source === "flash_sale" ? " (flash)" : "")),
        el("td", {}, money(l.discount, c)), el("td", {}, money(l.tax, c)), el("td", {}, money(l.line_subtotal, c))))));
    const totals = el("table", { class: "totals" }, el("tbody", {},
      row("Subtotal", money(qt.subtotal, c)),
      row("Discounts", money(qt.discount_amount, c)),
      row("Tax", money(qt.tax_amount, c)),
      row("Delivery", money(qt.delivery_fee, c)),
      row("Small-basket fee", money(qt.small_basket_fee, c)),
      row("Total", el("strong", { id: "quote-total", "data-amount": qt.total_amount }, money(qt.total_amount, c)), "total")));
    const rules = qt.applied_rules.map(r => el("li", {}, `${r.name}: ${money(r.amount, c)}`));
    const applied = qt.applied_coupons.map(cp => el("li", { class: "coupon-applied" }, `${cp.code} applied: −${money(cp.amount, c)}`));
    const rejected = qt.rejected_coupons.map(cp => el("li", { class: "coupon-rejected" }, `${cp.code} not applied: ${COUPON_REASONS[cp.reason] || cp.reason} (${cp.reason})`));
    $("quote").replaceChildren(lines, totals,
      ...(rules.length ? [el("h3", {}, "Discounts applied"), el("ul", {}, ...rules)] : []),
      ...(applied.length || rejected.length ? [el("h3", {}, "Coupons"), el("ul", {}, ...applied, ...rejected)] : []),
      el("p", { class: "muted" }, `Quote ${qt.quote_id}, valid until ${new Date(qt.valid_until).toLocaleTimeString()}`));
    drawReservation(qt.reservation);
    $("place-order").hidden = false;
    $("order-result").textContent = "";
  }

  function drawReservation(held) {
    const note = $("reservation");
    note.textContent = held ? `Held for you until ${new Date(held.expires_at).toLocaleTimeString()}: ` +
      held.lines.map(l => `${l.quantity} × ${(basket.get(l.product_id) || { product: { name: l.product_id } }).product.name}`).join(", ") : "";
    note.hidden = !held;
    $("checkout").hidden = Boolean(held);
    $("leave-checkout").hidden = !held;
  }

  async function requestQuote(reserve) {
    const currency = [...basket.values()][0].product.currency;
    const coupons = $("coupons").value.split(",").map(s => s.trim()).filter(Boolean);
    return api("POST", "/api/v1/quote", {
      customer_id: me.id, currency, coupon_codes: coupons, reserve_stock: reserve,
      delivery_address: { city: $("city").value, country: $("country").value.toUpperCase() },
      items: [...basket.values()].map(({ product, quantity }) => ({ product_id: product.id, quantity })),
    });
  }

  async function quote(ev) {
    ev.preventDefault();
    if (basket.size === 0) { say("Add a product to the basket first.", "error"); return; }
    try {
      lastQuote = await requestQuote(false);
      drawQuote(lastQuote);
      say("Quote ready.", "ok");
    } catch (e) { say(`The quote failed: ${e.message}`, "error"); }
  }

  // Opening the checkout quotes again with reserve_stock: the units are held until the quote
  // expires, so the order cannot fail for stock; leaving gives them back at once.
  async function checkout() {
    if (basket.size === 0) { say("Add a product to the basket first.", "error"); return; }
    try {
      lastQuote = await requestQuote(true);
      drawQuote(lastQuote);
      say("Your items are held for you while you check out.", "ok");
    } catch (e) { say(`Checkout refused: ${e.message}`, "error refusal"); }
  }

  async function leaveCheckout() {
    if (!lastQuote || !lastQuote.reservation) return;
    try {
      await api("DELETE", `/api/v1/quotes/${lastQuote.quote_id}/reservation`);
      lastQuote = { ...lastQuote, reservation: null };
      drawReservation(null);
      say("You left the checkout: your held items were released.", "ok");
    } catch (e) { say(`Could not release the held items: ${e.message}`, "error"); }
  }

  async function order() {
    if (!lastQuote) return;
    try {
      const o = await api("POST", "/api/v1/orders", { quote_id: lastQuote.quote_id }, { "Idempotency-Key": QS.uuid() });
      $("order-result").textContent = `Order ${o.id} placed: ${money(o.total_amount, o.currency)}.`;
      $("place-order").hidden = true;
      drawReservation(null); $("checkout").hidden = true;
      basket.clear(); drawBasket();
      say("Thank you, your order is confirmed.", "ok");
      await loadOrders();
    } catch (e) { say(`The order was refused: ${e.message}`, "error"); }
  }

  const STATUS = { confirmed: "confirmed", partially_refunded: "partly refunded", refunded: "refunded", cancelled: "cancelled" };

  async function loadOrders() {
    const page = await api("GET", "/api/v1/orders?limit=5");
    const list = $("orders");
    list.replaceChildren();
    if (!page.items.length) { list.append(el("li", {}, "No orders yet.")); return; }
    for (const o of page.items) {
      const when = new Date(o.created_at).toLocaleString();
      const item = el("li", { class: "order", "data-status": o.status },
        `${when}: ${money(o.total_amount, o.currency)}, ${STATUS[o.status] || o.status}`);
      if (o.status === "confirmed") {
        item.append(" ", el("button", { type: "button", class: "cancel-order", "aria-label": `Cancel the order of ${when}`,
          onclick: () => cancelOrder(o) }, "Cancel"));
      } else if (Number(o.refunded_amount) > 0) {
        item.append(`, ${money(o.refunded_amount, o.currency)} refunded`);
      }
      list.append(item);
    }
  }

  async function cancelOrder(o) {
    try {
      const done = await api("POST", `/api/v1/orders/${o.id}/cancel`, {}, { "Idempotency-Key": QS.uuid() });
      say(`Order cancelled: ${money(done.refunded_amount, done.currency)} will be refunded.`, "ok");
    } catch (e) { say(`The order could not be cancelled: ${e.message}`, "error"); }
    await loadOrders(); await loadProducts();
  }

  async function flashBuy(p, f, qty) {
    const quantity = Math.max(1, parseInt(qty.value, 10) || 1);
    try {
      const bought = await api("POST", `/api/v1/flash-sales/${f.sale.id}/purchases`,
        { product_id: p.id, quantity }, { "Idempotency-Key": QS.uuid() });
      say(`Bought ${bought.quantity} × ${p.name} at ${money(bought.unit_price, bought.currency)}.`, "ok");
    } catch (e) {
      say(`Flash purchase refused: ${e.message}`, "error refusal");
    }
    await loadFlash(); await loadProducts();
  }

  $("search").addEventListener("submit", ev => { ev.preventDefault(); loadProducts(); });
  $("category").addEventListener("change", () => loadProducts());
  $("quote-form").addEventListener("submit", quote);
  $("place-order").addEventListener("click", order);
  $("checkout").addEventListener("click", checkout);
  $("leave-checkout").addEventListener("click", leaveCheckout);
  setInterval(() => { for (const c of document.querySelectorAll(".countdown")) c.textContent = countdown(c.dataset.until); }, 1000);
  (async () => {
    try {
      me = await api("GET", "/api/v1/users/me");
      await loadFlash(); await loadProducts(); drawBasket(); await loadOrders();
    } catch (e) { say("Could not load the store: " + e.message, "error"); }
  })();
})();
