"""Ctrl-C at the terminal reaches every process of the run: the run stops, resumable, and no
worker prints a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bsti_submit.errors import ExitStatus
from bsti_submit.testing import FakePatient, make_ct_slice

from .helpers import SITE, cli_command, save, submit_to_folder


@pytest.mark.integration  # a whole run in its own process group, interrupted
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_a_stop_sent_to_the_whole_run_leaves_it_resumable_without_a_traceback(
    tmp_path: Path, stop: signal.Signals
) -> None:
    for index in range(60):
        save(make_ct_slice(FakePatient(), index), tmp_path / "in" / f"slice{index:02d}")
    out = tmp_path / "out"
    process = subprocess.Popen(
        cli_command("submit", str(tmp_path / "in"), "--to", str(out), "--site", SITE),
        env={**os.environ, "BSTI_SUBMIT_WORKERS": "2"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.rglob("*.dcm"))) < 3:
        time.sleep(0.05)
    os.killpg(process.pid, stop)  # what the terminal does on Ctrl-C: every process gets it
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == ExitStatus.INTERRUPTED, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("bsti-submit: interrupted")
    written = len(list(out.rglob("*.dcm")))
    assert 3 <= written < 60
    assert submit_to_folder(tmp_path / "in", out).exit_code == ExitStatus.SUCCESS
    assert len(list(out.rglob("*.dcm"))) == 60
