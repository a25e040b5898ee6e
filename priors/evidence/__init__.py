"""Shipped evidence files (published per-query figures, TOML); read with importlib.resources."""
