"""What `retrieve` asks the PACS for: the queries, the accession files, the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from bsti_submit.errors import ExitStatus, UsageError
from bsti_submit.pacs import StudyQuery
from bsti_submit.retrieve import read_accessions, study_queries

from .helpers import run


def test_each_accession_and_modality_is_one_query_narrowed_by_patient_and_date() -> None:
    queries = study_queries(["A1", "A2"], "RX1234567", "20200301-20200331", ("CT", "CR"))
    assert StudyQuery("A1", "RX1234567", "20200301-20200331", "CR") in queries
    assert len(queries) == 4
    assert study_queries([], None, "20200301", ()) == [StudyQuery(study_date="20200301")]


@pytest.mark.parametrize(
    ("accessions", "patient_id", "study_date", "reason"),
    [
        ([], None, None, "name what to fetch"),
        (["ACC*"], None, None, "could match other studies"),
        ([" "], None, None, "could match other studies"),
        (["A1\\A2"], None, None, "could match other studies"),
        ([], "RX?", None, "could match other studies"),
        ([], "", None, "could match other studies"),
        ([], None, "2020-03-01", "give YYYYMMDD"),
        ([], None, "20200331-20200301", "give YYYYMMDD"),
        ([], None, "20200230", "give YYYYMMDD"),
        ([], None, "20200301-", "give YYYYMMDD"),
    ],
)
def test_a_query_that_could_fetch_more_than_it_names_is_refused(
    accessions: list[str], patient_id: str | None, study_date: str | None, reason: str
) -> None:
    with pytest.raises(UsageError, match=reason):
        study_queries(accessions, patient_id, study_date)


def test_an_accessions_file_is_one_per_line_or_a_csv_column(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("# COVID-19 cases, March\nACC1\n\n  ACC2  \n", encoding="utf-8")
    assert read_accessions(plain) == ["ACC1", "ACC2"]
    exported = tmp_path / "ris.csv"  # a RIS export, saved by Excel with a byte-order mark
    exported.write_text("\ufeffAcc No,Name\nACC3,X\n,Y\nACC4,Z\n", encoding="utf-8")
    assert read_accessions(exported) == ["ACC3", "ACC4"]
    unheaded = tmp_path / "unheaded.csv"
    unheaded.write_text("Name,Date\nX,1\n", encoding="utf-8")
    with pytest.raises(UsageError, match="needs a column headed Accession"):
        read_accessions(unheaded)


def test_a_bad_accessions_file_is_one_line_naming_it(tmp_path: Path) -> None:
    result = run("retrieve", "--accessions", str(tmp_path / "missing.csv"), "--dry-run")
    assert result.exit_code == ExitStatus.USAGE
    assert result.output.startswith(f"bsti-submit: error: accessions file {tmp_path}")


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("PACS_AE_TITLE", "A_TITLE_LONGER_THAN_16", "is not valid"),
        ("LISTEN_AE_TITLE", "BACK\\SLASH", "is not valid"),
        ("PACS_RETRIEVE", "copy", "must be one of move, get"),
        ("PACS_PORT", "0", "must be 1 or more"),
        ("ALLOWED_CALLING_ADDRESSES", "10.1.2.0/24, 10.1.2.300", "not an IP address or network"),
    ],
)
def test_a_bad_pacs_setting_is_refused(
    name: str, value: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"BSTI_SUBMIT_{name}", value)
    result = run("check-pacs")
    assert result.exit_code == ExitStatus.CONFIG
    assert reason in result.output


def test_retrieve_without_a_pacs_says_which_settings_to_make() -> None:
    result = run("retrieve", "--accession", "ACC1", "--dry-run")
    assert result.exit_code == ExitStatus.CONFIG
    assert "set pacs_host, pacs_port and pacs_ae_title" in result.output
