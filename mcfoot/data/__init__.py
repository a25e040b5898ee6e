"""Shipped data tables (CSV with units in column names); see SOURCE.md."""
