"""Delivering notifications (R16): the outbox, e-mail over SMTP, WeChat template messages, and
the ledger that makes each message go out once as far as each channel allows."""
