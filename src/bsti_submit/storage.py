"""The tool's own SQLite files (lookup table, quarantine, delivery state): private to their
owner from the moment they exist."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .errors import ConfigError


def open_private_database(path: Path, schema: str, what: str) -> sqlite3.Connection:
    """Open (creating with mode 0600) the database at `path` with its schema applied."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        connection = sqlite3.connect(path)
        # A write-ahead log with NORMAL sync commits without waiting for the disk; a killed
        # run still loses nothing committed, a power cut at most the last commits, which a
        # rerun redoes (every step is idempotent). SQLite gives the log files the database's
        # own mode, 0600.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(schema)
    except (OSError, sqlite3.Error) as error:
        raise ConfigError(f"{what} {path} cannot be opened: {error}") from error
    return connection
