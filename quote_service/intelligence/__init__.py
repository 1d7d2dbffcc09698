"""Market intelligence: competitor prices on a Redis Stream, market signals, pricing decisions."""
