-- The storefront's product order (GET /api/v1/products?sort=catalog, docs/api.md): products
-- that generate-data made up (tagged `generated`) after all others, then by category and name,
-- then id. Without this index every page sorts every matching product to find its 24 (a
-- top-N sort over the catalog); with it a page reads its rows in order from the cursor on
-- (loadtests/bench_catalog_order.py, BENCHMARKS.md). The expression must stay exactly the
-- one in catalog/repository.py's LIST_ORDERS for the planner to use it.
CREATE INDEX products_catalog_order_idx ON products ((tags @> '{generated}'::text[]), category_id, name, id);
