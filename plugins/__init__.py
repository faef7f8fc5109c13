"""Built-in interpreto plugins. Each module is its own entry point in the ``interpreto`` group."""
