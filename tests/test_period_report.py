"""`bsti-submit report`: what was sent, held and released in a period, by month and modality,
with no identifier unless --show-values."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bsti_submit.errors import ExitStatus
from bsti_submit.testing import FakePatient, make_instance

from .helpers import SITE, found_in, planted_identifiers, run, save, submit_to_folder

TODAY = datetime.now(UTC).date()


@pytest.fixture
def history(
    export: Path, tmp_path: Path, patient: FakePatient, second_patient: FakePatient
) -> tuple[Path, list[str]]:
    """Two runs to a folder (4 CT and 1 CR sent; one CT instance held, then released), and
    every identifier planted in them."""
    out = tmp_path / "out"
    submit_to_folder(export, out)
    held = make_instance(patient, 5, 0, 0)
    held.BurnedInAnnotation = "YES"
    submit_to_folder(save(held, tmp_path / "more" / "image1").parent, out)
    held_id = run("quarantine", "list").output.split()[0]
    finding = "burned-in text: BurnedInAnnotation YES, and no text was found to mask"
    released = run(
        "quarantine", "release", held_id, "--reason", "reviewed",
        "--accept-finding", finding, "--site", SITE,
    )  # fmt: skip
    assert released.exit_code == 0, released.output
    return out, planted_identifiers(patient) + planted_identifiers(second_patient)


def report(*options: str) -> str:
    result = run("report", "--since", TODAY.isoformat(), *options)
    assert result.exit_code == 0, result.output
    return result.output


def test_report_counts_sent_held_and_released_by_month_and_modality(
    history: tuple[Path, list[str]],
) -> None:
    document = json.loads(report("--json"))
    assert document["runs"] == 3  # two submits and a release
    rows = {row["modality"]: row for row in document["rows"]}
    assert set(rows) == {"CT", "CR"}
    assert {row["month"] for row in rows.values()} == {TODAY.isoformat()[:7]}
    ct, cr = rows["CT"], rows["CR"]
    assert ct["sent"] == {"instances": 4, "studies": 1, "patients": 1}
    assert ct["held"] == {"instances": 1, "studies": 1, "patients": 1}
    assert ct["released"] == {"instances": 1, "studies": 1, "patients": 1}
    assert ct["runs"] == 3
    assert cr["sent"] == {"instances": 1, "studies": 1, "patients": 1}
    assert cr["held"]["instances"] == 0 and cr["runs"] == 1


def test_report_has_no_identifier_unless_show_values(
    history: tuple[Path, list[str]], patient: FakePatient
) -> None:
    _, planted = history
    for options in ([], ["--json"], ["--csv"]):
        output = report(*options)
        assert found_in(output.encode(), planted) == [], options
        assert "RX1-" not in output  # nor a pseudonym
    shown = json.loads(report("--json", "--show-values"))
    ct = next(row for row in shown["rows"] if row["modality"] == "CT")
    assert ct["patient_ids"] == [patient.patient_id]
    assert ct["pseudonyms"][0].startswith("RX1-")
    assert patient.patient_id in report("--csv", "--show-values")
    assert patient.patient_id in report("--show-values")


def test_csv_and_table_carry_the_same_counts(history: tuple[Path, list[str]]) -> None:
    rows = list(csv.DictReader(io.StringIO(report("--csv"))))
    ct = next(row for row in rows if row["modality"] == "CT")
    assert (ct["sent_instances"], ct["held_instances"], ct["released_instances"]) == (
        "4",
        "1",
        "1",
    )
    table = report()
    assert table.startswith(f"3 run(s) from {TODAY.isoformat()} to today")
    assert "sent_instances" in table.splitlines()[1]


def test_a_period_before_the_runs_is_empty(history: tuple[Path, list[str]]) -> None:
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    result = run("report", "--since", "2020-03-01", "--until", yesterday)
    assert result.exit_code == 0
    assert "0 run(s)" in result.output and "Nothing was sent" in result.output


@pytest.mark.parametrize(
    "arguments",
    [["--since", "2026-13-01"], ["--since", "2026-01-01", "--json", "--csv"], []],
    ids=["bad date", "two formats", "no since"],
)
def test_report_refuses_bad_options_in_one_line(arguments: list[str]) -> None:
    result = run("report", *arguments)
    assert result.exit_code == ExitStatus.USAGE
    assert "Traceback" not in result.output


@pytest.mark.integration
def test_no_identifier_of_the_adversarial_corpus_is_in_its_receipt_or_report(
    tmp_path: Path,
) -> None:
    from bsti_submit.config import Settings
    from bsti_submit.run import submit

    from .corpus import build_corpus, leaked, write_corpus

    files = build_corpus()
    planted = sorted({spelling for file in files for spelling in file.planted})
    write_corpus(tmp_path / "in", files)
    summary = submit(tmp_path / "in", tmp_path / "out", Settings.load(None, site=SITE))
    assert summary.receipt is not None and summary.written > 100
    assert leaked(summary.receipt.read_bytes(), planted) == []
    for options in ([], ["--json"], ["--csv"]):
        assert leaked(report(*options).encode(), planted) == [], options
    assert leaked(report("--json", "--show-values").encode(), planted)  # the check can see them
