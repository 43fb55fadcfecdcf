"""The dry run tells the truth, writes nothing, and can be shown to anyone with --hide-values."""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import stat
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bsti_submit.audit import read_records
from bsti_submit.errors import ExitStatus
from bsti_submit.testing import FakePatient, make_instance

from .helpers import planted_identifiers, run, save

SITE = "RX1"
SAMPLE = Path(__file__).resolve().parent.parent / "sample" / "study"


@pytest.fixture(autouse=True)
def key(isolated_folders: Path) -> None:
    """A dry run needs the trust's key (it makes none), as after `init`."""
    assert run("init", "--site", SITE).exit_code == ExitStatus.SUCCESS


def scan_json(source: Path, *options: str) -> dict[str, Any]:
    result = run("scan", str(source), "--json", *options)
    assert result.exit_code in (
        ExitStatus.SUCCESS,
        ExitStatus.INPUT_ERRORS,
        ExitStatus.QUARANTINED,
    ), result.output
    report: dict[str, Any] = json.loads(result.output)
    return report


def snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path): (path.stat().st_size, path.stat().st_mtime_ns)
        for folder in folders
        for path in folder.rglob("*")
    }


def test_scan_predicts_exactly_what_submit_does(export: Path, tmp_path: Path) -> None:
    report = scan_json(export)
    predicted = {
        (instance["file"], change["tag_path"], change["action"], change["after"])
        for instance in report["instances"]
        for change in instance["changes"]
    }
    audit = tmp_path / "audit.jsonl"
    run("submit", str(export), "--to", str(tmp_path / "out"), "--audit-log", str(audit))
    done = {
        (record["file"], record["path"], record["action"], record["new"])
        for record in read_records(audit)
        if record["type"] == "change"
    }
    assert predicted == done
    assert len(predicted) > 100


def test_scan_leaves_no_file_anywhere(export: Path, isolated_folders: Path) -> None:
    before = snapshot(export, isolated_folders)
    result = run("scan", str(export))
    assert result.exit_code == ExitStatus.INPUT_ERRORS  # the truncated file
    assert "Dry run: nothing was written and nothing was sent." in result.output
    assert snapshot(export, isolated_folders) == before
    dry = run("submit", str(export), "--to", str(export.parent / "never"), "--dry-run")
    assert dry.exit_code == ExitStatus.INPUT_ERRORS and "Dry run" in dry.output
    assert snapshot(export, isolated_folders) == before
    assert not (export.parent / "never").exists()


def test_the_json_report_follows_its_schema(export: Path) -> None:
    schema_text = (resources.files("bsti_submit") / "data" / "scan-report.schema.json").read_text()
    report = scan_json(export)
    jsonschema.validate(report, json.loads(schema_text))
    assert report["counts"]["instances"] == 5 and report["counts"]["failed"] == 1
    assert report["modalities"] == {"CT": 4, "CR": 1}
    assert {p["pseudonym"][:4] for p in report["patients"]} == {f"{SITE}-"}
    removed = [row for row in report["changes"] if row["keyword"] == "PatientAddress"]
    assert removed[0]["action"] == "REMOVE" and removed[0]["files"] == 5


def test_hide_values_shows_no_original_value(
    export: Path, patient: FakePatient, second_patient: FakePatient
) -> None:
    planted = planted_identifiers(patient) + planted_identifiers(second_patient)
    text = run("scan", str(export), "--hide-values").output
    document = run("scan", str(export), "--json", "--hide-values").output
    for value in planted:
        assert value.upper() not in text.upper() and value.upper() not in document.upper()
    shown = run("scan", str(export)).output
    assert patient.patient_id in shown  # without the switch, the admin sees the values


def test_the_exit_code_says_what_would_happen(tmp_path: Path, patient: FakePatient) -> None:
    assert run("scan", str(SAMPLE)).exit_code == ExitStatus.SUCCESS
    risky = make_instance(patient)
    risky.BurnedInAnnotation = "YES"
    source = save(risky, tmp_path / "risky" / "one").parent
    result = run("scan", str(source))
    assert result.exit_code == ExitStatus.QUARANTINED
    assert (
        "Would quarantine 1: burned-in text: BurnedInAnnotation YES, and no text was found to mask"
        in result.output
    )


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HEADLESS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.mark.integration  # headless Chromium
def test_the_html_report_shows_one_thumbnail_per_series(export: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = run("scan", str(export), "--report", str(page), "--hide-values")
    assert result.exit_code == ExitStatus.INPUT_ERRORS
    browser = [CHROMIUM, *HEADLESS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*browser, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert dom.count('data-loaded="yes"') == 3  # three series in the export
    assert 'data-loaded="no"' not in dom
    assert stat.S_IMODE(page.stat().st_mode) == 0o600  # it names patients
    assert f"by {getpass.getuser()}" in dom and "report id" in dom
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", dom)
    assert sorted(captions) == ["CR AXIAL 1.25mm", "CT AXIAL 1.25mm", "CT AXIAL 1.25mm"], captions
    shot = tmp_path / "report.png"
    subprocess.run(
        [*browser, f"--screenshot={shot}", "--window-size=1200,4000", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_a_file_name_that_is_not_utf8_is_named_in_the_report(export: Path, tmp_path: Path) -> None:
    (export / os.fsdecode(b"caf\xe9.dcm")).write_bytes((export / "notes.txt").read_bytes())
    page = tmp_path / "report.html"
    result = run("scan", str(export), "--report", str(page))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "caf\\xe9.dcm" in page.read_text()
