"""Shapes that cross boundaries: workflow inputs, update arguments, activity arguments,
query results (pydantic) and the record tables (SQLAlchemy, in `store.tables`)."""
