"""`bsti-submit init`: a trust's one-off set-up of its config file and pseudonym key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import Settings, write_config
from .deid.profile import load_profile
from .errors import ConfigError
from .keys import key_store, other_store


@dataclass(frozen=True)
class SetupResult:
    """What `initialise` wrote."""

    config_file: Path
    key_place: str  # the key file, or the keyring
    retired_key: str | None
    created: bool  # a new key was made (else the existing one is kept)


def initialise(
    settings: Settings, config_file: Path, force: bool = False, new_key: bool = False
) -> SetupResult:
    """Write the config file, and create the pseudonym key if there is none. An existing
    config is replaced only with `force`; an existing key only with `new_key`, since a new key
    breaks the link to everything sent before (it is kept beside the new one)."""
    if not settings.site:
        raise ConfigError("a site code is needed: bsti-submit init --site CODE")
    load_profile(settings.profile)  # a profile that does not load is refused now, not at 2 a.m.
    config_exists = config_file.exists()
    if config_exists and not (force or new_key):
        raise ConfigError(
            f"config file {config_file} already exists: change one setting with "
            "bsti-submit config set KEY VALUE, or rewrite the file with init --force"
        )
    store = key_store(settings)
    key_exists = store.exists()
    left_behind = other_store(settings)
    if not key_exists and left_behind.exists():  # a new key would change every pseudonym
        raise ConfigError(
            f"the pseudonym key is in {left_behind.where}: move it with `bsti-submit key "
            f"export --to FILE` and `bsti-submit key import FILE --key-store "
            f"{settings.key_store}` before init"
        )
    retired = None
    if key_exists:
        store.load()  # a key that is not ours to read is refused, kept or not
        if new_key:
            retired = store.retire_and_create()
    else:
        store.create()
    if force or not config_exists:  # --new-key alone replaces the key and nothing else
        write_config(config_file, settings)
    return SetupResult(config_file, store.where, retired, created=new_key or not key_exists)
