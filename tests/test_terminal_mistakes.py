"""Slips a PACS administrator makes at a terminal: each gets one line that says what is wrong,
the exit code of the README's table, no traceback, and nothing half-done.

`MISTAKES` is the table: the command, what is set up around it, the exit code and the line.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bsti_submit.errors import ExitStatus

from .helpers import run

SITE = "RX1"


@dataclass(frozen=True)
class Mistake:
    """A command with a slip in it; {export}, {tmp} and {config} are filled in."""

    name: str
    args: tuple[str, ...]
    exit_code: int
    says: str
    environment: dict[str, str] = field(default_factory=dict)
    config: str = ""  # the config file's text, when the slip is in it
    setup: Callable[[Path], object] | None = None


def read_only(folder: Path) -> None:
    """A folder nothing can be written in. Root writes in any folder, so as root (CI's
    containers) a file stands in its place: writing fails the same way."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        folder.write_text("not a folder\n")
    else:
        folder.mkdir()
        folder.chmod(0o555)


def unwritable(
    name: str,
    args: tuple[str, ...],
    says: str,
    folder: str = "locked",
    environment: dict[str, str] | None = None,
) -> Mistake:
    """A command that needs to write in `folder` of the test's folder, which cannot be."""
    return Mistake(
        name,
        args,
        3,
        says,
        environment=environment or {},
        setup=lambda tmp: read_only(tmp / folder),
    )


MISTAKES = [
    Mistake(
        "init with a mistyped scheme",
        ("init", "--site", SITE, "--destination", "htps://pacs.example.org/dicom-web"),
        2,
        "htps://pacs.example.org/dicom-web is not an https:// URL",
    ),
    Mistake(
        "workers not a number",
        ("submit", "{export}", "--to", "{tmp}/out", "--site", SITE),
        3,
        "setting workers (environment BSTI_SUBMIT_WORKERS): must be a whole number, not 'abc'",
        environment={"BSTI_SUBMIT_WORKERS": "abc"},
    ),
    Mistake(
        "negative retries in the config file",
        ("submit", "{export}", "--to", "{tmp}/out"),
        3,
        "setting retries (config file {config}, line 3): must be 0 or more, not -1",
        config='site = "RX1"\n# retries on a refused batch\nretries = -1\n',
    ),
    Mistake(
        "a dry run told where to write its audit log",
        (
            "submit",
            "{export}",
            "--to",
            "{tmp}/out",
            "--site",
            SITE,
            "--dry-run",
            "--audit-log",
            "{tmp}/audit.jsonl",
            "--workers",
            "2",
        ),
        2,
        "--dry-run writes and sends nothing, so --audit-log, --workers cannot apply",
    ),
    Mistake(
        "an audit log that exists already",
        ("submit", "{export}", "--to", "{tmp}/out", "--site", SITE, "--audit-log", "{tmp}/old.log"),
        2,
        "audit log {tmp}/old.log exists already: name a new file",
        setup=lambda tmp: (tmp / "old.log").write_text("a previous run's log\n"),
    ),
    unwritable(
        "an audit log in a read-only folder",
        (
            "submit",
            "{export}",
            "--to",
            "{tmp}/out",
            "--site",
            SITE,
            "--audit-log",
            "{tmp}/locked/run.log",
        ),
        "audit log folder {tmp}/locked cannot be written",
    ),
    unwritable(
        "a read-only destination folder",
        ("submit", "{export}", "--to", "{tmp}/locked/out", "--site", SITE),
        "destination folder {tmp}/locked/out cannot be written",
    ),
    unwritable(
        "a report in a read-only folder",
        ("scan", "{export}", "--site", SITE, "--report", "{tmp}/locked/report.html"),
        "report folder {tmp}/locked cannot be written",
    ),
    unwritable(
        "a read-only state folder",
        ("submit", "{export}", "--to", "{tmp}/out", "--site", SITE),
        "state folder {tmp}/state cannot be written",
        folder="state",
        environment={"BSTI_SUBMIT_STATE_DIR": "{tmp}/state"},
    ),
    Mistake(
        "--move-to inside SOURCE",
        (
            "submit",
            "{export}",
            "--to",
            "{tmp}/out",
            "--site",
            SITE,
            "--after-delivery",
            "move",
            "--move-to",
            "{export}/done",
        ),
        2,
        "is inside SOURCE {export}: moved files would be read again by the next run",
    ),
    Mistake(
        "an endpoint whose name does not resolve",
        ("check-endpoint", "https://no-such-host.invalid/dicom-web"),
        7,
        "cannot reach no-such-host.invalid: the host name does not resolve",
    ),
    Mistake(
        "an endpoint that refuses the connection",
        ("check-endpoint", "https://127.0.0.1:{port}/dicom-web"),
        7,
        "the connection was refused (check the port, or whether the server is up)",
    ),
    Mistake(
        "a URL without a scheme in the config file, seen by doctor",
        ("doctor",),
        3,
        "setting destination (config file {config}, line 1): pacs.example.org/dicom-web is not",
        config='destination = "pacs.example.org/dicom-web"\nsite = "RX1"\n',
    ),
]


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("mistake", MISTAKES, ids=[mistake.name for mistake in MISTAKES])
def test_a_mistake_gets_one_clear_line(
    mistake: Mistake, export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    if mistake.config:
        config.write_text(mistake.config)
        monkeypatch.setenv("BSTI_SUBMIT_CONFIG", str(config))
    filled = {
        "export": str(export),
        "tmp": str(tmp_path),
        "config": str(config),
        "port": str(free_port()),
    }
    for name, value in mistake.environment.items():
        monkeypatch.setenv(name, value.format(**filled))
    if mistake.setup is not None:
        mistake.setup(tmp_path)
    args = [arg.format(**filled) for arg in mistake.args]
    result = run(*args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.exit_code == mistake.exit_code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert mistake.says.format(**filled) in lines[0]
    assert not (tmp_path / "out").exists(), "work was done despite the mistake"


def test_a_dry_run_obeys_json_and_quiet(export: Path, tmp_path: Path) -> None:
    assert run("init", "--site", SITE).exit_code == ExitStatus.SUCCESS
    args = ["submit", str(export), "--to", str(tmp_path / "out"), "--site", SITE, "--dry-run"]
    as_json = run(*args, "--json")
    assert json.loads(as_json.stdout)["source"] == str(export), as_json.output
    quiet = run(*args, "--quiet")
    assert quiet.stdout == "" and quiet.exit_code == as_json.exit_code
    assert not (tmp_path / "out").exists()


def test_one_source_given_two_ways_is_taken_once(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same folder as a relative and as an absolute path: the second run took every file
    again."""
    monkeypatch.chdir(export.parent)
    out = str(tmp_path / "out")
    first = run("submit", export.name, "--to", out, "--site", SITE)
    assert "Wrote 5 instance(s)" in first.output, first.output
    again = run("submit", str(export), "--to", out, "--site", SITE)
    assert "Wrote 0 instance(s)" in again.output, again.output


def test_a_folder_whose_name_looks_like_a_url_is_given_with_dot_slash(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal's advice works: ./name is a folder, whatever it looks like."""
    monkeypatch.chdir(tmp_path)
    for name in ("./data:2020", "./pacs.trust.nhs.uk/out"):
        result = run("submit", str(export), "--to", name, "--site", SITE)
        assert result.exit_code == ExitStatus.INPUT_ERRORS, (
            result.output
        )  # written; the export's broken file failed
        assert list((tmp_path / name).rglob("*.dcm")), name


def test_files_a_worker_skips_make_no_run_of_their_own(
    tmp_path: Path, isolated_folders: Path
) -> None:
    """A file skipped by a worker (no Patient ID) is taken, unless it changes: a later run
    with nothing else new writes no audit log."""
    from bsti_submit.testing import FakePatient, make_instance

    from .helpers import save

    anonymous = make_instance(FakePatient())
    del anonymous.PatientID
    save(anonymous, tmp_path / "in" / "no-id")
    save(make_instance(FakePatient(), instance=1), tmp_path / "in" / "good")
    args = ["submit", str(tmp_path / "in"), "--to", str(tmp_path / "out"), "--site", SITE]
    first = run(*args)
    assert "no Patient ID" in first.output
    again = run(*args)
    assert "Nothing new since the last run" in again.output, again.output
