"""The command line (`python starter.py ...`): one module per command group (declarations,
rounds, schedule, outbox, accounts, documents), the parser (parser.py), what it prints
(output.py), its exit codes (exits.py) and the entry point (main.py).

Reading the settings and parsing stay light: a command imports what it needs (the Temporal
client, the record database, the renderer) when it runs, so `starter.py round plan` loads no
database driver, mail or HTTP client, or template engine."""
