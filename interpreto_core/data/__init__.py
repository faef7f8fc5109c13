"""Small data sets shipped with interpreto-core (see README.md here for source and licence)."""
