"""`bsti-submit doctor`: one line per thing a run needs, with a fix for each that is broken."""

from __future__ import annotations

import shutil
import socket
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from .config import Settings
from .deid.profile import load_profile
from .errors import AlreadyRunningError, BstiError
from .keys import key_store
from .locks import RunLock

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
        ("PACS", _pacs, "run `bsti-submit check-pacs` and follow its message"),
        ("listen port", _listen_port, "stop what uses the port, or set listen_port to a free one"),
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
    from .run import check_destination

    return check_destination(settings, settings.destination)


def _pacs(settings: Settings) -> str:
    if not settings.pacs_host:
        return "no PACS configured (pacs_host is not set): retrieve is not used"
    from .pacs import Pacs

    pacs = Pacs(settings)
    pacs.echo()
    return f"{pacs.name} answered C-ECHO"


def _listen_port(settings: Settings) -> str:
    """The port `listen` and `retrieve` (C-MOVE) receive on can be bound, unless this state
    folder's listener holds it already."""
    if not (settings.allowed_calling_ae_titles or settings.pacs_host):
        return "not used: no sender is allowed and no PACS is configured"
    from .listener import LISTEN_LOCK

    address = (settings.listen_address, settings.listen_port)
    try:
        with RunLock(settings.state_dir, name=LISTEN_LOCK), socket.socket() as probe:
            probe.bind(address)
    except AlreadyRunningError:
        return f"port {address[1]} is held by this state folder's running listener"
    except OSError as error:
        raise BstiError(
            f"cannot listen on {address[0]} port {address[1]}: {error.strerror}"
        ) from error
    return f"{address[0]} port {address[1]} can be listened on"
