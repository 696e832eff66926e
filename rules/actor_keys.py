"""The keys the workflows' update validators verify signed actors with
(rules/actor_signature.py).

Workflows cannot read settings (no I/O in the sandbox), so the worker installs the key here
before it starts (worker.build_worker: ZHICHENG_ACTOR_SIGNING_KEY), and worker.py lists this
module in PASSTHROUGH_MODULES: the sandboxed workflows import this same module instance, not a
fresh copy of their own, and see the installed keys.

Why this is deterministic-safe: only update VALIDATORS read these keys, and validators never
run on replay (the SDK skips them: the history records that the update was accepted, and a
refused update left no event at all). Handlers, timers and every other command never read
them. So a replay with another key, or none, takes the same path as the original run; the key
decides only whether a new update is accepted, before anything is recorded.

Adding (not replacing) keeps a process that builds several workers (the tests) consistent,
and leaves room for a rotation: the old key and the new one, both accepted for a while.
"""

from __future__ import annotations

_keys: tuple[bytes, ...] = ()


def install(*keys: bytes) -> None:
    """Accept actors signed with any of `keys` from now on (empty keys are ignored)."""
    global _keys
    _keys = tuple(dict.fromkeys((*_keys, *(key for key in keys if key))))


def verifying_keys() -> tuple[bytes, ...]:
    """The keys installed so far; empty: every signed update is refused."""
    return _keys


def clear() -> None:
    """Forget every key (unit tests)."""
    global _keys
    _keys = ()
