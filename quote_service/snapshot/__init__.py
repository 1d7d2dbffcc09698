"""The in-memory configuration snapshot the quote path reads, and how it stays fresh."""
