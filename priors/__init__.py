"""Shipped prior scenarios (TOML); read with importlib.resources, never imported as code."""
