// The store (docs/pages.md): the catalog on the left; the basket, its quote, the checkout and
// the shopper's orders and flash purchases in a right-hand column that stays in view. Each part is a module of its
// own (store_*.js); this one starts them in order.
import { $, say } from "./store_ui.js";
import { draw as drawBasket } from "./store_basket.js";
import { loadOffers, onPurchase } from "./store_flash.js";
import { loadProducts } from "./store_catalog.js";
import { loadOrders, onOrdersChange } from "./store_orders.js";
import { startQuotes } from "./store_quote.js";
import { trouble } from "./store_words.js";

const { api } = QS;

async function refreshAfterOrders() {
  await Promise.all([loadOrders(), loadOffers().catch(() => {})]);
}

(async () => {
  drawBasket();
  onOrdersChange(() => loadOffers().catch(() => {}));
  onPurchase(() => loadOrders());
  try {
    const me = await api("GET", "/api/v1/users/me");
    startQuotes(me, refreshAfterOrders);
    await loadOffers().catch(error => say($("products-status"), `Flash sales could not be loaded: ${trouble(error)}`, "error"));
    await Promise.all([loadProducts(), loadOrders()]);
  } catch (error) {
    say($("products-status"), `Could not open the store: ${trouble(error)}`, "error");
  }
})();
