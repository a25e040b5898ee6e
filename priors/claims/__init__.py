"""Shipped claim files (TOML); read with importlib.resources."""
