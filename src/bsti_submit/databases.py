"""The tool's own SQLite files (lookup table, quarantine, delivery state): private to their
owner from the moment they exist."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from .errors import ConfigError
from .platforms import make_private


def now_text() -> str:
    """The time as the databases and the audit log store it: UTC, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def open_private_database(path: Path, schema: str, what: str) -> sqlite3.Connection:
    """Open (creating it private to its owner) the database at `path` with its schema
    applied."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            make_private(path)  # the mode means nothing on Windows: there its ACL does this
        connection = sqlite3.connect(path)
        # A write-ahead log: a commit is one append and one flush to disk, where the default
        # journal creates, syncs and deletes a file each time; FULL sync keeps every commit
        # through a power cut (what was sent is never forgotten). SQLite gives the log files
        # the database's own mode, 0600.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.executescript(schema)
    except (OSError, sqlite3.Error) as error:
        raise ConfigError(f"{what} {path} cannot be opened: {error}") from error
    return connection
