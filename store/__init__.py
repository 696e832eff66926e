"""The record database (SQLAlchemy tables, the engine, migrations) and the files kept beside it:
the I/O that activities, the command line and the portal share."""
