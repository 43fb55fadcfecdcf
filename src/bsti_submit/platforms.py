"""What differs between Linux, macOS and Windows, in this one module.

Platforms: Linux, macOS ("darwin") and Windows ("win32"); any other POSIX system takes the
macOS branches (POSIX calls, no fork). No other module asks which OS it runs on or calls a
POSIX-only or Windows-only function. Each function takes the platform as an argument, this
machine's by default, and the OS's own module (fcntl, msvcrt) or command can be passed in, so
the tests run every branch on any OS.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from .errors import ConfigError

CURRENT = sys.platform
WINDOWS = "win32"
# Windows' classic limit on a whole path, unless the machine enables long paths.
WINDOWS_MAX_PATH = 260
# Groups every account on a Windows machine belongs to: a secret they can read is not private.
WINDOWS_BROAD_GROUPS = (
    "Everyone",
    "BUILTIN\\Users",
    "BUILTIN\\Guests",
    "NT AUTHORITY\\Authenticated Users",
)
# How long another program (an antivirus, a viewer) may hold a file we are replacing.
REPLACE_ATTEMPTS = 10
REPLACE_PAUSE_SECONDS = 0.1

BINARY_FLAG = getattr(os, "O_BINARY", 0)  # without it Windows translates line ends in os.read
Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def is_windows(platform: str = CURRENT) -> bool:
    return platform == WINDOWS


def most_workers(platform: str = CURRENT) -> int:
    """The most worker processes the OS can wait on: Windows waits on at most 63 handles, so
    Python's process pool takes at most 61 workers there."""
    return 61 if is_windows(platform) else 1024


def forks_workers(platform: str = CURRENT) -> bool:
    """Whether worker processes are forked (Linux) or started afresh (spawn): macOS's system
    libraries and Windows do not survive a fork."""
    return platform.startswith("linux")


def end_with_parent(platform: str = CURRENT) -> None:
    """Ask the OS to end this (forked worker) process when its parent dies: Linux's
    parent-death signal. Elsewhere workers are spawned and end when their pipe closes."""
    if not forks_workers(platform):
        return
    import ctypes

    set_parent_death_signal = 1  # PR_SET_PDEATHSIG
    ctypes.CDLL(None).prctl(set_parent_death_signal, signal.SIGTERM)


def after_fork_in_child(callback: Callable[[], None]) -> None:
    """Run `callback` in every forked child; there is no fork on Windows, nor this hook."""
    register = getattr(os, "register_at_fork", None)
    if register is not None:
        register(after_in_child=callback)


# --- the run lock -----------------------------------------------------------------------


class Locking(Protocol):
    """An exclusive lock on an open file, released by the OS when its process dies."""

    def try_lock(self, descriptor: int) -> bool: ...

    def unlock(self, descriptor: int) -> None: ...


class PosixLocking:
    """`flock` on the whole file."""

    def __init__(self, fcntl: Any = None) -> None:
        self._fcntl = fcntl or importlib.import_module("fcntl")

    def try_lock(self, descriptor: int) -> bool:
        try:
            self._fcntl.flock(descriptor, self._fcntl.LOCK_EX | self._fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock(self, descriptor: int) -> None:
        self._fcntl.flock(descriptor, self._fcntl.LOCK_UN)


class WindowsLocking:
    """`msvcrt.locking` on one byte far past the file's content (Windows allows a lock beyond
    the end). Windows' locks are mandatory, so the byte is one nobody reads: the holder's PID
    at the start of the file stays readable to a second run. A locked byte refuses with
    OSError."""

    OFFSET = 1 << 20

    def __init__(self, msvcrt: Any = None) -> None:
        self._msvcrt = msvcrt or importlib.import_module("msvcrt")

    def try_lock(self, descriptor: int) -> bool:
        os.lseek(descriptor, self.OFFSET, os.SEEK_SET)
        try:
            self._msvcrt.locking(descriptor, self._msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def unlock(self, descriptor: int) -> None:
        os.lseek(descriptor, self.OFFSET, os.SEEK_SET)
        self._msvcrt.locking(descriptor, self._msvcrt.LK_UNLCK, 1)


def file_locking(platform: str = CURRENT, module: ModuleType | Any = None) -> Locking:
    """This platform's lock; `module` stands in for fcntl or msvcrt."""
    return WindowsLocking(module) if is_windows(platform) else PosixLocking(module)


# --- files only their owner may read ----------------------------------------------------


def make_private(path: Path, platform: str = CURRENT, run: Runner = subprocess.run) -> None:
    """Leave `path` readable and writable by its owner only: mode 0600 on POSIX; on Windows an
    ACL that grants the current user alone (inherited grants removed), set with icacls."""
    if not is_windows(platform):
        os.chmod(path, 0o600)
        return
    user = _windows_user()
    _icacls(run, str(path), "/inheritance:r", "/grant:r", f"{user}:F")


def private_file_problem(
    path: Path, platform: str = CURRENT, run: Runner = subprocess.run
) -> str | None:
    """Why other users could read `path` and how to fix it, or None if only its owner can.
    Windows has no mode bits: there the file's ACL must grant none of the groups every
    account is in. Raises OSError if the file is missing, ConfigError if icacls fails."""
    if not is_windows(platform):
        mode = path.stat().st_mode
        if mode & 0o077:
            return (
                f"{path} can be read by other users (mode {mode & 0o777:o}); run: chmod 600 {path}"
            )
        return None
    listing = _icacls(run, str(path))
    broad = [group for group in WINDOWS_BROAD_GROUPS if f"{group}:".lower() in listing.lower()]
    if broad:
        return (
            f'{path} can be read by {", ".join(broad)}; run: icacls "{path}" '
            f'/inheritance:r /grant:r "%USERNAME%:F"'
        )
    return None


def _windows_user() -> str:
    domain, user = os.environ.get("USERDOMAIN", ""), os.environ.get("USERNAME", "")
    if not user:
        raise ConfigError("USERNAME is not set, so a file cannot be made private to its owner")
    return f"{domain}\\{user}" if domain else user


def _icacls(run: Runner, *arguments: str) -> str:
    """icacls's listing; ConfigError, one line, when it cannot run or refuses. It writes in the
    console's OEM code page."""
    try:
        done = run(
            ["icacls", *arguments],
            capture_output=True,
            encoding="oem",
            errors="replace",
            check=False,
        )
    except OSError as error:
        raise ConfigError(f"icacls could not be run: {error.strerror or error}") from error
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise ConfigError(
            f"icacls failed on {arguments[0]}: {detail[0] if detail else done.returncode}"
        )
    return str(done.stdout)


# --- interrupts -------------------------------------------------------------------------


def stop_signals(platform: str = CURRENT) -> list[str]:
    """The signals, besides Ctrl-C, that ask a run to stop and leave itself resumable: SIGTERM
    (systemd, launchd, kill) on POSIX; Ctrl-Break (SIGBREAK) in a Windows console. Names,
    since each exists only on its own OS."""
    return ["SIGBREAK"] if is_windows(platform) else ["SIGTERM"]


@contextlib.contextmanager
def stop_signals_raise_interrupt(platform: str = CURRENT) -> Any:
    """While the block runs, each stop signal raises KeyboardInterrupt, as Ctrl-C does."""
    handled = [getattr(signal, name) for name in stop_signals(platform) if hasattr(signal, name)]
    previous = {number: signal.signal(number, _interrupt) for number in handled}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def leave_stops_to_the_run() -> None:
    """In a worker process. A terminal sends Ctrl-C (and Windows' console Ctrl-Break) to every
    process of the run: the run stops its workers itself, so a worker ignores them rather than
    print a traceback. SIGTERM, which the run's death sends on Linux, ends it at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGBREAK"):
        signal.signal(signal.SIGBREAK, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


# --- replacing a file -------------------------------------------------------------------


def replace_file(
    source: Path,
    target: Path,
    platform: str = CURRENT,
    rename: Callable[[Path, Path], None] = os.replace,
    pause: Callable[[float], None] = time.sleep,
) -> None:
    """`os.replace`, retried on Windows for about a second while another program (an
    antivirus, a viewer, an indexer) briefly holds the target open. On POSIX a refusal is
    final: nothing there holds a name against a rename."""
    attempts = REPLACE_ATTEMPTS if is_windows(platform) else 1
    for attempt in range(1, attempts + 1):
        try:
            rename(source, target)
            return
        except PermissionError:
            if attempt == attempts:
                raise
            pause(REPLACE_PAUSE_SECONDS)


# --- paths ------------------------------------------------------------------------------


def long_paths_enabled(
    platform: str = CURRENT, read_setting: Callable[[], int] | None = None
) -> bool:
    """Whether this machine opens paths of any length. POSIX does; Windows only once the
    machine-wide LongPathsEnabled setting is 1 (Python itself is long-path aware)."""
    if not is_windows(platform):
        return True
    try:
        return (read_setting or _windows_long_paths_setting)() == 1
    except OSError:
        return False


@functools.cache  # read once per process: it is asked for every file found
def _windows_long_paths_setting() -> int:
    winreg: Any = importlib.import_module("winreg")
    key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SYSTEM\CurrentControlSet\Control\FileSystem")
    with key:
        value, _ = winreg.QueryValueEx(key, "LongPathsEnabled")
    return int(value)


def too_long(path: Path, platform: str = CURRENT, long_paths: bool | None = None) -> str | None:
    """Why `path` cannot be opened here, or None: on Windows without long paths, a whole path
    of 260 characters or more (the classic MAX_PATH) fails."""
    enabled = long_paths_enabled(platform) if long_paths is None else long_paths
    length = len(str(path))
    if enabled or length < WINDOWS_MAX_PATH:
        return None
    return (
        f"its path is {length} characters long; Windows opens at most {WINDOWS_MAX_PATH - 1} "
        "unless long paths are enabled (docs/operating-systems.md)"
    )


def shown(path: Path | str, platform: str = CURRENT) -> str:
    """A file name as printable text, whatever bytes it holds. A POSIX name that is not valid
    UTF-8 shows its odd bytes as \\xNN; a Windows name with an unpaired surrogate shows it as
    \\udNNN. Used wherever a name is printed, logged or recorded."""
    text = str(path)
    if is_windows(platform):
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return os.fsencode(text).decode("utf-8", "backslashreplace")
