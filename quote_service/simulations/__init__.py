"""What-if simulations: draft configuration changes priced against the quote log's baskets."""
