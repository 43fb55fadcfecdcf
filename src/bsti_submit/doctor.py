"""`bsti-submit doctor`: one line per thing a run needs, with a fix for each that is broken."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .deid.profile import load_profile
from .errors import BstiError
from .keys import key_store

MIN_FREE_BYTES = 1 << 30


@dataclass(frozen=True)
class Check:
    """The outcome of one check: what, whether it passed, what was seen, and how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order a run needs them."""
    checks: list[tuple[str, Callable[[Settings], str], str]] = [
        ("config", _config, "correct the file named, or run `bsti-submit init --site CODE`"),
        ("key", _key, "run `bsti-submit init --site CODE`, or make it private as this line says"),
        ("profile", _profile, "name a built-in profile or a recipe that `profile show` reads"),
        ("site", _site, "run `bsti-submit init --site CODE` or set BSTI_SUBMIT_SITE"),
        ("disk space", _disk, "free at least 1 GiB on the folders named"),
        ("state database", _state, "move the state database aside; a new one is made"),
        ("endpoint", _endpoint, "run `bsti-submit check-endpoint` and follow its message"),
    ]
    results = []
    for name, check, fix in checks:
        try:
            results.append(Check(name, True, check(settings)))
        except (BstiError, OSError, sqlite3.Error) as error:
            results.append(Check(name, False, str(error), fix))
    return results


def _config(settings: Settings) -> str:
    files = sorted({source for source in settings.sources.values() if source.startswith("config")})
    return files[0] if files else "no config file: defaults and environment only"


def _key(settings: Settings) -> str:
    store = key_store(settings)
    store.load()
    return f"{store.where}, readable by its owner only"


def _profile(settings: Settings) -> str:
    return f"{load_profile(settings.profile).label}"


def _site(settings: Settings) -> str:
    needs = load_profile(settings.profile).needs_site
    if needs and not settings.site:
        raise BstiError(f"profile {settings.profile} needs a site code and none is set")
    return settings.site or "not needed by this profile"


def _disk(settings: Settings) -> str:
    folders = [settings.state_dir, settings.log_dir]
    if settings.destination and not settings.destination.startswith("https://"):
        folders.append(Path(settings.destination))
    low = []
    for folder in folders:
        existing = next(parent for parent in (folder, *folder.parents) if parent.exists())
        if shutil.disk_usage(existing).free < MIN_FREE_BYTES:
            low.append(str(folder))
    if low:
        raise BstiError(f"less than 1 GiB free for {', '.join(low)}")
    return "at least 1 GiB free for state, logs and destination"


def _state(settings: Settings) -> str:
    path = settings.state_database
    if not path.exists():
        return f"{path} does not exist yet (made by the first run)"
    with closing(sqlite3.connect(path)) as connection:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
    if verdict != "ok":
        raise BstiError(f"{path} is damaged: {verdict}")
    return f"{path} is sound"


def _endpoint(settings: Settings) -> str:
    if not settings.destination.startswith("https://"):
        return "no endpoint configured (the destination is a folder or not set)"
    from .delivery.stow import StowClient
    from .run import endpoint_for

    with closing(StowClient(endpoint_for(settings, settings.destination))) as client:
        return client.check()
