pytest_plugins = ["interpreto_core.testing"]
