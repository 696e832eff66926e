"""Durable file writes, shared by the publication store (activities/publish.py) and the
upload store (portal/uploads.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def synced_temporary(directory: Path, data: bytes, prefix: str = ".incoming-") -> Path:
    """`data` in a new temporary file of `directory`, flushed to disk (fsync) so that a
    rename or link of it after a crash never shows a half-written file. The caller moves it
    into place (os.replace / os.link) and removes what is left."""
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Path(temporary)
