"""Kill a run at points spread over it, then run again: every instance ends up written exactly
once, no partial file is left, and each killed run's audit log verifies up to its last complete
record."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bsti_submit.audit import audit_key, verify_chain
from bsti_submit.config import Settings
from bsti_submit.deid.pseudonym import load_key
from bsti_submit.errors import ExitStatus
from bsti_submit.testing import FakePatient, make_ct_slice

from .helpers import cli_command

pytestmark = pytest.mark.integration  # runs killed mid-way in child processes

KILL_POINTS = 6
FILES = 40


def test_killed_runs_resume_with_nothing_lost_or_duplicated(
    tmp_path: Path, isolated_folders: Path
) -> None:
    source, out = tmp_path / "export", tmp_path / "out"
    source.mkdir()
    for index in range(FILES):
        make_ct_slice(FakePatient(), index).save_as(
            source / f"IM{index:04d}", enforce_file_format=True
        )
    rng = random.Random(20200324)
    logs = tmp_path / "logs"
    for point in range(KILL_POINTS):
        log = logs / f"killed-{point}.jsonl"
        command = cli_command(
            "submit",
            str(source),
            "--to",
            str(out),
            "--site",
            "RX1",
            "--profile",
            "ps315-basic",
            "--audit-log",
            str(log),
        )
        process = subprocess.Popen(
            command, env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.8, 3.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        if log.exists():
            verdict = verify_chain(log, audit_key(load_key(Settings.load().key_file)))
            assert verdict.broken_at is None or verdict.broken_at == verdict.records + 1
    final = subprocess.run(
        cli_command(
            "submit", str(source), "--to", str(out), "--site", "RX1", "--profile", "ps315-basic"
        ),
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert final.returncode == ExitStatus.SUCCESS, final.stdout + final.stderr
    written = sorted(out.rglob("*.dcm"))
    assert len(written) == FILES
    assert len({path.stem for path in written}) == FILES
    assert not [path for path in out.rglob("*") if path.name.endswith(".partial")]
    assert not list(
        (isolated_folders / "xdg_state_home" / "bsti-submit" / "staging").rglob("*.dcm")
    )
    # and nothing is lost track of: one more run finds every file done already
    command = cli_command(
        "submit", str(source), "--to", str(out), "--site", "RX1", "--profile", "ps315-basic"
    )
    again = subprocess.run(command, env=os.environ, capture_output=True, text=True, timeout=300)
    assert "Wrote 0 instance(s)" in again.stdout, again.stdout
    assert f"Already taken in an earlier run, unchanged: {FILES} file(s)" in again.stdout
