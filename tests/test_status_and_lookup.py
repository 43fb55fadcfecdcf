"""`status`, `lookup` and `quarantine list` as a PACS administrator uses them: they read and
never create, folder runs are listed, and the lookup table says when a patient was last sent."""

from __future__ import annotations

from pathlib import Path

from bsti_submit.errors import ExitStatus
from bsti_submit.testing import FakePatient

from .helpers import run

SITE = "RX1"


def test_read_only_commands_create_nothing(isolated_folders: Path) -> None:
    assert run("status").output.strip() == "No runs yet."
    assert run("quarantine", "list").output.strip() == "Nothing is quarantined."
    missing = run("lookup", "RX1-AAAAAAAAAAAA")
    assert missing.exit_code == ExitStatus.ERROR and "Not found" in missing.output
    assert not [path for path in isolated_folders.rglob("*") if path.is_file()]


def test_status_lists_folder_runs(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run("submit", str(export), "--to", str(out), "--site", SITE)
    shown = run("status")
    (line,) = [line for line in shown.output.splitlines() if line.startswith("run ")]
    assert str(out) in line and "finished" in line


def test_lookup_ignores_case(export: Path, tmp_path: Path, patient: FakePatient) -> None:
    out = str(tmp_path / "out")
    run("submit", str(export), "--to", out, "--site", SITE)
    found = run("lookup", "--patient-id", patient.patient_id.lower())
    assert found.exit_code == ExitStatus.SUCCESS, found.output
    pseudonym, _, _, last_sent = found.output.splitlines()[0].split("\t")
    again = run("lookup", pseudonym.lower())
    assert again.exit_code == ExitStatus.SUCCESS and patient.patient_id in again.output
    assert last_sent.startswith("last sent ")
