"""Built-in interpreto plugins (each module its own entry point)."""
