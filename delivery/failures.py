"""How the senders classify a failed attempt."""

from __future__ import annotations

# --- failures, as the senders classify them -------------------------------------------------


class Temporary(Exception):
    """Not sent, worth retrying (server busy, network, quota, an outage of configuration)."""


class Permanent(Exception):
    """Not sent, and retrying cannot help this message (bad address, unbound, unsubscribed)."""


class MaybeSent(Exception):
    """The request left and no answer came back: it may have been accepted."""
