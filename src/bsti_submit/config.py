"""Settings for a run, and the platformdirs folders they default to."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from .profile import DEFAULT_PROFILE

APP_NAME = "bsti-submit"
ENV_PREFIX = "BSTI_SUBMIT_"


def data_dir() -> Path:
    """Where the pseudonym key (and later the lookup table) live."""
    return platformdirs.user_data_path(APP_NAME)


def log_dir() -> Path:
    """Where audit logs are written by default."""
    return platformdirs.user_log_path(APP_NAME)


@dataclass(frozen=True)
class Settings:
    """Everything a run needs besides its source and destination. Immutable once built."""

    profile: str = DEFAULT_PROFILE
    key_file: Path = field(default_factory=lambda: data_dir() / "pseudonym.key")
    log_dir: Path = field(default_factory=log_dir)

    @classmethod
    def from_environment(cls, **overrides: Any) -> Settings:
        """Defaults, overridden by `BSTI_SUBMIT_<FIELD>` variables, overridden by arguments
        that are not None (the command-line flags)."""
        settings = cls()
        from_env: dict[str, Any] = {}
        for item in fields(cls):
            value = os.environ.get(ENV_PREFIX + item.name.upper())
            if value:
                from_env[item.name] = Path(value) if item.type == "Path" else value
        given = {name: value for name, value in overrides.items() if value is not None}
        return replace(settings, **{**from_env, **given})
