"""`bsti-submit init`: a trust's one-off set-up of its config file and pseudonym key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import Settings, write_config
from .errors import ConfigError, KeyFileError
from .profile import load_profile
from .pseudonym import create_key, load_key, replace_key


@dataclass(frozen=True)
class SetupResult:
    """What `initialise` wrote."""

    config_file: Path
    key_file: Path
    retired_key: Path | None


def initialise(settings: Settings, config_file: Path, force: bool = False) -> SetupResult:
    """Write the config file and create the pseudonym key. An existing key or config is never
    replaced without `force`: a new key breaks the link to everything sent before."""
    if not settings.site:
        raise ConfigError("a site code is needed: bsti-submit init --site CODE")
    load_profile(settings.profile)  # a profile that does not load is refused now, not at 2 a.m.
    key_exists = settings.key_file.exists()
    if not force:
        if key_exists:
            raise KeyFileError(
                f"a pseudonym key already exists at {settings.key_file}; a new key would break "
                "the link between new submissions and everything sent before, and the lookup "
                "of their pseudonyms. Keep it, or use --force to retire it and make a new one"
            )
        if config_file.exists():
            raise ConfigError(
                f"config file {config_file} already exists; use --force to replace it"
            )
    retired = None
    if key_exists:
        load_key(settings.key_file)  # refuse to retire a key that is not ours to read
        retired = replace_key(settings.key_file)
    else:
        create_key(settings.key_file)
    write_config(config_file, settings)
    return SetupResult(config_file, settings.key_file, retired)
