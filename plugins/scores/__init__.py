"""Built-in scores: the number explained for each target."""
