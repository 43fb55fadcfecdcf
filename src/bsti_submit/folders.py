"""Folders and files the tool writes: checked before any work, written readable by the owner
only (reports and logs name patients)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import ConfigError
from .platforms import make_private


def ensure_writable(folder: Path, what: str) -> None:
    """Make `folder` if it is missing and prove a file can be written in it, so a run that
    cannot write fails at once with one line rather than file by file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".bsti-submit-probe-"):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"{what} {folder} cannot be written: {reason}") from error


def write_private_text(path: Path, text: str) -> None:
    """Write a text file readable and writable by its owner only, replacing any file of that
    name."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    make_private(path)  # an existing file keeps its mode through O_TRUNC; Windows ignores modes
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
