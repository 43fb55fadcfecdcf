"""The operational log: one file per day in the log folder, pruned after a retention period.

It says when runs started and ended, with what profile, what counts and what exit status, and
never a patient identifier, a file name or a secret: the audit log, at mode 0600, holds those.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from .platforms import make_private

LOGGER_NAME = "bsti_submit.run"
_PREFIX = "bsti-submit-"


def open_day_log(log_dir: Path, retention_days: int) -> logging.Logger:
    """The logger writing to today's file; files older than `retention_days` are deleted."""
    log_dir.mkdir(parents=True, exist_ok=True)
    _prune(log_dir, retention_days)
    path = log_dir / f"{_PREFIX}{datetime.now(UTC):%Y-%m-%d}.log"
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        make_private(path)  # Windows ignores the mode
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s pid=%(process)d %(message)s"))
    logger.addHandler(handler)
    return logger


def _prune(log_dir: Path, retention_days: int) -> None:
    cutoff = time.time() - retention_days * 86400
    for old in log_dir.glob(f"{_PREFIX}*.log"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
