"""Parallel de-identification: the same output whatever the number of workers; a quick start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bsti_submit import platforms
from bsti_submit.audit import read_records
from bsti_submit.config import Settings
from bsti_submit.errors import ExitStatus
from bsti_submit.run import submit
from bsti_submit.testing import FakePatient, make_instance

from .helpers import run, save


def recorded(audit: Path) -> list[tuple[object, ...]]:
    """The audit log without what differs between any two runs (run IDs, times, hashes)."""
    kept = []
    for record in read_records(audit):
        if record["type"] in ("change", "file"):
            kept.append(
                tuple(
                    value
                    for key, value in sorted(record.items())
                    if key not in ("seq", "mac", "time")
                )
            )
    return kept


@pytest.mark.parametrize("fork", [True, False], ids=["forked (Linux)", "spawned (macOS, Windows)"])
def test_output_audit_and_pseudonyms_are_the_same_whatever_the_workers(
    export: Path,
    tmp_path: Path,
    patient: FakePatient,
    monkeypatch: pytest.MonkeyPatch,
    fork: bool,
) -> None:
    monkeypatch.setattr(platforms, "forks_workers", lambda platform=None: fork)
    for index in range(12):  # enough files for the pool to interleave
        save(
            make_instance(patient, study=3, series=index % 3, instance=index),
            export / "more" / f"file{index}",
        )
    results = {}
    for workers in (1, 3):
        monkeypatch.setenv("BSTI_SUBMIT_WORKERS", str(workers))
        out, audit = tmp_path / f"out{workers}", tmp_path / f"audit{workers}.jsonl"
        results[workers] = submit(export, out, Settings.load(site="RX1"), audit)
    one, three = results[1], results[3]
    assert one.written == three.written == 17 and one.patients == three.patients
    files_one = {
        p.relative_to(tmp_path / "out1"): p.read_bytes() for p in (tmp_path / "out1").rglob("*.dcm")
    }
    files_three = {
        p.relative_to(tmp_path / "out3"): p.read_bytes() for p in (tmp_path / "out3").rglob("*.dcm")
    }
    assert files_one == files_three
    assert recorded(tmp_path / "audit1.jsonl") == recorded(tmp_path / "audit3.jsonl")


def test_help_and_version_start_without_the_heavy_modules() -> None:
    probe = (
        "import sys\n"
        "from bsti_submit.cli import main\n"
        "for arguments in (['--version'], ['--help'], ['submit', '--help']):\n"
        "    sys.argv = ['bsti-submit', *arguments]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = {'pydicom', 'deid', 'numpy', 'requests', 'rich', 'matplotlib'}\n"
        "print(sorted({name.split('.')[0] for name in sys.modules} & heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_run_does_not_load_deids_pixel_tools(export: Path, tmp_path: Path) -> None:
    """deid's pixel tools pull in matplotlib (a fifth of a second per run and per worker); the
    burned-in checks evaluate deid's device lists without them."""
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from bsti_submit.config import Settings\n"
        "from bsti_submit.run import submit\n"
        f"submit(Path({str(export)!r}), Path({str(tmp_path / 'out')!r}), Settings(site='RX1'))\n"
        "print(sorted({'matplotlib', 'deid.dicom'} & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert list((tmp_path / "out").rglob("*.dcm"))


def test_the_workers_flag_is_obeyed(export: Path, tmp_path: Path) -> None:
    """--workers was accepted and ignored: the variable (1 here) won."""

    audit = tmp_path / "audit.jsonl"
    args = ["submit", str(export), "--to", str(tmp_path / "out"), "--site", "RX1"]
    result = run(*args, "--workers", "2", "--audit-log", str(audit))
    assert result.exit_code == ExitStatus.INPUT_ERRORS, result.output  # the export's truncated file
    (header,) = [record for record in read_records(audit) if record["type"] == "run"]
    assert header["settings"]["workers"] == 2


def test_the_line_records_answers_while_it_waits_for_a_worker() -> None:
    """A file that takes long to clean does not leave the endpoint's answers unrecorded: the
    line's idle call runs while it waits."""
    import threading
    from concurrent.futures import Future

    from bsti_submit.workers import Staged, _result

    future: Future[Staged] = Future()
    staged = Staged(Path("slow.dcm"), "skipped", "slow")
    threading.Timer(0.8, future.set_result, args=(staged,)).start()
    calls: list[float] = []
    assert _result(future, lambda: calls.append(1.0)) is staged
    assert len(calls) >= 2
