"""Each OS's branch of the platform module, the OS chosen by argument so all run here."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bsti_submit import platforms
from bsti_submit.deid.pseudonym import create_key, load_key
from bsti_submit.delivery import folder as folder_module
from bsti_submit.errors import AlreadyRunningError, ConfigError, ExitStatus, KeyFileError
from bsti_submit.locks import RunLock
from bsti_submit.testing import FakePatient, make_instance
from bsti_submit.workers import WorkerSetup, _process_pool, staging_pool

from .helpers import SITE, run, save, submit_to_folder
from .platform_standins import Icacls, Msvcrt

ALL = ["linux", "darwin", "win32"]


def test_windows_run_lock_refuses_a_second_run_and_names_the_first(tmp_path: Path) -> None:
    msvcrt = Msvcrt()
    windows = platforms.file_locking("win32", msvcrt)
    with RunLock(tmp_path, windows):
        second = RunLock(tmp_path, platforms.file_locking("win32", msvcrt))
        with pytest.raises(AlreadyRunningError, match=rf"\(pid {os.getpid()}\)"):
            second.__enter__()
        # Windows' locks are mandatory: the locked byte must lie past the PID a second run reads
        assert min(offset for _, offset in msvcrt.calls) > 64
        assert (tmp_path / "run.lock").read_text() == f"{os.getpid()}\n"
    assert msvcrt.held == {}
    with RunLock(tmp_path, windows) as again:  # released: the next run goes ahead
        assert again.stale_pid is None


def test_posix_run_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    with RunLock(tmp_path, platforms.file_locking("darwin")):
        second = RunLock(tmp_path, platforms.file_locking("linux"))
        with pytest.raises(AlreadyRunningError):
            second.__enter__()


@pytest.mark.parametrize(
    ("grants", "problem"),
    [
        ("HOST\\alice:(F)\n NT AUTHORITY\\SYSTEM:(F)\n BUILTIN\\Administrators:(F)", None),
        ("HOST\\alice:(F)\n Everyone:(R)", "Everyone"),
        ("HOST\\alice:(F)\n BUILTIN\\Users:(I)(RX)", "BUILTIN\\Users"),
        ("NT AUTHORITY\\Authenticated Users:(I)(M)", "NT AUTHORITY\\Authenticated Users"),
    ],
)
def test_windows_secret_files_are_judged_by_their_acl(
    tmp_path: Path, grants: str, problem: str | None
) -> None:
    secret = tmp_path / "token"
    secret.write_text("x")
    secret.chmod(0o644)  # modes mean nothing on Windows
    found = platforms.private_file_problem(secret, "win32", Icacls(grants))
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found and "icacls" in found


def test_windows_private_files_get_an_acl_for_their_owner_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USERDOMAIN", "TRUST")
    monkeypatch.setenv("USERNAME", "pacsadmin")
    icacls = Icacls()
    secret = tmp_path / "key"
    secret.write_text("x")
    platforms.make_private(secret, "win32", icacls)
    assert icacls.commands == [
        ["icacls", str(secret), "/inheritance:r", "/grant:r", "TRUST\\pacsadmin:F"]
    ]
    with pytest.raises(ConfigError, match="icacls failed"):
        platforms.private_file_problem(secret, "win32", Icacls(returncode=5))


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_posix_secret_files_are_judged_by_their_mode(tmp_path: Path, platform: str) -> None:
    secret = tmp_path / "token"
    secret.write_text("x")
    secret.chmod(0o640)
    found = platforms.private_file_problem(secret, platform)
    assert found is not None and "mode 640" in found and f"chmod 600 {secret}" in found
    platforms.make_private(secret, platform)
    assert platforms.private_file_problem(secret, platform) is None


def test_a_key_that_cannot_be_made_private_is_not_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("USERNAME", raising=False)  # icacls cannot name the owner
    monkeypatch.setattr(platforms, "is_windows", lambda platform=None: True)
    key = tmp_path / "pseudonym.key"
    with pytest.raises(ConfigError, match="USERNAME is not set"):
        create_key(key)
    assert not key.exists()


def test_windows_workers_stay_within_what_the_os_can_wait_on() -> None:
    assert platforms.most_workers("win32") == 61
    assert platforms.most_workers("linux") > 61


def test_a_key_others_can_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    key = tmp_path / "pseudonym.key"
    create_key(key)
    assert key.stat().st_mode & 0o777 == 0o600
    key.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_key(key)


@pytest.mark.parametrize(
    ("platform", "expected"), [("linux", "SIGTERM"), ("darwin", "SIGTERM"), ("win32", "SIGBREAK")]
)
def test_the_signals_that_stop_a_run(platform: str, expected: str) -> None:
    assert platforms.stop_signals(platform) == [expected]


def test_a_stop_signal_interrupts_like_ctrl_c() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), platforms.stop_signals_raise_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before


def _flaky_rename(refusals: int) -> tuple[list[float], object]:
    pauses: list[float] = []
    left = [refusals]

    def rename(source: Path, target: Path) -> None:
        if left[0]:
            left[0] -= 1
            raise PermissionError(13, "held by another program")
        os.replace(source, target)

    return pauses, rename


def test_windows_replace_waits_for_a_program_holding_the_target(tmp_path: Path) -> None:
    source, target = tmp_path / "new", tmp_path / "old"
    source.write_text("new")
    target.write_text("old")
    pauses, rename = _flaky_rename(3)
    platforms.replace_file(source, target, "win32", rename, pauses.append)  # type: ignore[arg-type]
    assert target.read_text() == "new" and len(pauses) == 3
    source.write_text("newer")
    pauses, rename = _flaky_rename(platforms.REPLACE_ATTEMPTS)
    with pytest.raises(PermissionError):
        platforms.replace_file(source, target, "win32", rename, pauses.append)  # type: ignore[arg-type]
    assert target.read_text() == "new"


@pytest.mark.parametrize("platform", ["linux", "darwin"])
def test_posix_replace_does_not_retry(tmp_path: Path, platform: str) -> None:
    pauses, rename = _flaky_rename(1)
    with pytest.raises(PermissionError):
        platforms.replace_file(tmp_path / "a", tmp_path / "b", platform, rename, pauses.append)  # type: ignore[arg-type]
    assert pauses == []


def test_windows_without_long_paths_refuses_paths_of_260_characters() -> None:
    short = Path("C:\\Exports\\study\\1.dcm")
    long = Path("C:\\Exports\\" + "x" * 250 + "\\1.dcm")
    assert platforms.too_long(short, "win32", long_paths=False) is None
    reason = platforms.too_long(long, "win32", long_paths=False)
    assert reason is not None and f"{len(str(long))} characters" in reason
    assert platforms.too_long(long, "win32", long_paths=True) is None
    assert platforms.too_long(long, "linux") is None
    assert platforms.long_paths_enabled("win32", lambda: 1)
    assert not platforms.long_paths_enabled("win32", lambda: 0)

    def unreadable() -> int:
        raise FileNotFoundError("no such value")

    assert not platforms.long_paths_enabled("win32", unreadable)


def test_a_destination_too_deep_for_windows_is_refused_before_any_work(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows_without_long_paths = functools.partial(
        platforms.too_long, platform="win32", long_paths=False
    )
    monkeypatch.setattr(folder_module, "too_long", windows_without_long_paths)
    deep = tmp_path / ("d" * 120)
    result = run("submit", str(export), "--to", str(deep), "--site", SITE)
    assert result.exit_code == ExitStatus.CONFIG, result.output
    assert "is too deep" in result.output and "long paths are enabled" in result.output
    assert not list(tmp_path.rglob("*.dcm"))


def test_a_folder_that_cannot_be_listed_is_reported_not_lost(export: Path, tmp_path: Path) -> None:
    """Linux's own limit, 4,096 characters, stands in for Windows' 260: os.walk cannot list a
    folder that deep, and the run must say so."""
    deep = os.open(export, os.O_RDONLY)
    for _ in range(18):  # 18 folders of 250 characters: deeper than any path can name
        os.mkdir("f" * 250, dir_fd=deep)
        inner = os.open("f" * 250, os.O_RDONLY, dir_fd=deep)
        os.close(deep)
        deep = inner
    os.close(deep)
    result = submit_to_folder(export, tmp_path / "out")
    assert "folder cannot be read" in result.output, result.output
    assert "Wrote 5 instance(s)" in result.output
    assert result.exit_code == ExitStatus.INPUT_ERRORS


def test_names_that_are_not_text_are_shown_escaped_on_each_os() -> None:
    posix_name = os.fsdecode(b"/exports/caf\xe9.dcm")  # Latin-1 bytes on a UTF-8 system
    assert platforms.shown(posix_name, "linux") == "/exports/caf\\xe9.dcm"
    assert platforms.shown(posix_name, "darwin") == "/exports/caf\\xe9.dcm"
    windows_name = "C:\\exports\\scan\udc80.dcm"  # an unpaired surrogate, as NTFS allows
    assert platforms.shown(windows_name, "win32") == "C:\\exports\\scan\\udc80.dcm"
    assert platforms.shown("/exports/Seán.dcm", "linux") == "/exports/Seán.dcm"


@pytest.mark.parametrize(
    ("platform", "start"), [("linux", "fork"), ("darwin", "spawn"), ("win32", "spawn")]
)
def test_workers_fork_only_on_linux(tmp_path: Path, platform: str, start: str) -> None:
    setup = WorkerSetup("bsti-covid19", b"k" * 32, SITE, "", tmp_path / "staging")
    with _process_pool(setup, 1, platform) as pool:
        assert pool._mp_context.get_start_method() == start  # type: ignore[union-attr]


def test_spawned_workers_as_on_macos_and_windows_stage_files(
    tmp_path: Path, patient: FakePatient
) -> None:
    sources = [
        save(make_instance(patient, instance=n), tmp_path / "in" / f"{n}") for n in (1, 2, 3)
    ]
    setup = WorkerSetup("bsti-covid19", b"k" * 32, SITE, "", tmp_path / "staging")
    with staging_pool(setup, 2, platform="darwin") as stage_all:
        staged = list(stage_all(sources))
    assert [item.kind for item in staged] == ["ready"] * 3
    assert all(item.file is not None and item.file.exists() for item in staged)


SCAN_AND_SUBMIT_WITHOUT_FCNTL = """
import sys
sys.modules["fcntl"] = None  # as on Windows: importing it fails
from bsti_submit import platforms
from tests.platform_standins import Msvcrt
standin = Msvcrt()
platforms.file_locking = lambda platform=None, module=None: platforms.WindowsLocking(standin)
from bsti_submit.cli import main
main(sys.argv[1:])
"""


def test_scan_and_submit_run_where_fcntl_does_not_exist(export: Path, tmp_path: Path) -> None:
    def bsti_submit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", SCAN_AND_SUBMIT_WITHOUT_FCNTL, *args],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=Path(__file__).parent.parent,
            env={**os.environ, "BSTI_SUBMIT_WORKERS": "2"},
        )

    assert bsti_submit("init", "--site", SITE).returncode == 0
    scanned = bsti_submit("scan", str(export))
    assert scanned.returncode == ExitStatus.INPUT_ERRORS, scanned.stderr
    assert "5 instance" in scanned.stdout
    submitted = bsti_submit("submit", str(export), "--to", str(tmp_path / "out"))
    assert "Traceback" not in submitted.stderr
    assert submitted.returncode == ExitStatus.INPUT_ERRORS, submitted.stderr
    assert len(list((tmp_path / "out").rglob("*.dcm"))) == 5


def test_one_folder_for_config_key_lookup_and_state_as_on_windows_and_macos(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """platformdirs gives Windows (AppData\\Local\\bsti-submit\\bsti-submit) and macOS
    (Library/Application Support/bsti-submit) one folder for all of these: nothing collides."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "AppData" / "Local" / "bsti-submit"))
    shared = tmp_path / "AppData" / "Local" / "bsti-submit" / "bsti-submit"
    monkeypatch.setenv("BSTI_SUBMIT_KEY_FILE", str(shared / "pseudonym.key"))
    monkeypatch.setenv("BSTI_SUBMIT_LOOKUP_FILE", str(shared / "lookup.sqlite"))
    monkeypatch.setenv("BSTI_SUBMIT_STATE_DIR", str(shared))
    monkeypatch.setenv("BSTI_SUBMIT_LOG_DIR", str(shared / "Logs"))
    assert run("init", "--site", SITE).exit_code == ExitStatus.SUCCESS
    first = run("submit", str(export), "--to", str(tmp_path / "out"))
    assert first.exit_code == ExitStatus.INPUT_ERRORS and "Wrote 5 instance(s)" in first.output
    again = run("submit", str(export), "--to", str(tmp_path / "out"))
    assert "Wrote 0 instance(s)" in again.output
    assert run("lookup", "--patient-id", "RX1234567").exit_code == ExitStatus.SUCCESS
    names = {path.name for path in shared.iterdir()}
    assert {"config.toml", "pseudonym.key", "lookup.sqlite", "state.sqlite", "Logs"} <= names
