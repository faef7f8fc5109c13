"""Built-in tasks: one per model family / head."""
