"""Withdrawal of consent: every instance sent for a patient across runs is listed and
requested for deletion (signed, with no original identifier), deleted where the endpoint
supports it, and every later run holds the patient's studies back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bsti_submit.errors import ExitStatus
from bsti_submit.testing import FakePatient, make_instance

from .helpers import found_in, planted_identifiers, run, save, send
from .servers import TOKEN, DicomWebServer, dicomweb_server

pytestmark = pytest.mark.integration  # Orthanc behind nginx TLS


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DicomWebServer]:
    with dicomweb_server(tmp_path / "server", deletion=True) as running:
        yield running


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BSTI_SUBMIT_TOKEN", TOKEN)


def study_folder(root: Path, patient: FakePatient, study: int, count: int = 2) -> Path:
    """One study of a patient, `count` instances, in a folder of its own."""
    folder = root / f"{patient.patient_id}-{study}"
    for instance in range(count):
        save(make_instance(patient, study, 0, instance), folder / f"I{instance}")
    return folder


def sent_sops(receipts: list[Path], pseudonym: str) -> set[str]:
    """The SOP instance UIDs the receipts name as delivered for a pseudonym."""
    found = set()
    for path in receipts:
        for study in json.loads(path.read_bytes())["studies"]:
            if study["pseudonym"] == pseudonym:
                found |= {
                    i["sop_instance_uid"]
                    for i in study["instances"]
                    if i["acknowledgement"]["status"] == "delivered"
                }
    return found


def submit_study(folder: Path, server: DicomWebServer) -> dict[str, object]:
    result = send(folder, server, "--json")
    return dict(json.loads(result.output))


def withdrawn_lines(output: str) -> set[str]:
    return {line.split()[1] for line in output.splitlines() if line.strip().startswith("instance")}


def test_withdraw_lists_every_instance_sent_across_runs_and_holds_later_runs(
    tmp_path: Path, server: DicomWebServer, patient: FakePatient, second_patient: FakePatient
) -> None:
    first = submit_study(study_folder(tmp_path / "in", patient, 0, 3), server)
    other = submit_study(study_folder(tmp_path / "in", second_patient, 0), server)
    second = submit_study(study_folder(tmp_path / "in", patient, 1), server)
    receipts = [Path(str(summary["receipt"])) for summary in (first, other, second)]
    pseudonym = json.loads(receipts[0].read_bytes())["studies"][0]["pseudonym"]

    result = run("withdraw", "--patient-id", patient.patient_id)
    assert result.exit_code == 0, result.output
    assert "2 studies, 5 instances sent" in result.output
    assert withdrawn_lines(result.output) == sent_sops(receipts, pseudonym)
    request = Path(result.output.split("withdrawal request ")[1].split(":")[0])
    verified = run("receipt", "verify", str(request))
    assert verified.exit_code == 0 and "withdrawal request" in verified.output
    text = request.read_bytes()
    assert found_in(text, planted_identifiers(patient)) == []
    assert pseudonym.encode() in text

    before = server.instance_count()
    later = send(study_folder(tmp_path / "later", patient, 2), server)
    assert later.exit_code == ExitStatus.QUARANTINED, later.output
    assert server.instance_count() == before  # nothing of theirs left the trust
    assert "the patient withdrew consent" in run("quarantine", "list").output
    still_sent = send(study_folder(tmp_path / "later", second_patient, 3), server)
    assert still_sent.exit_code == 0 and server.instance_count() == before + 2

    held_id = run("quarantine", "list").output.split()[0]
    release = run("quarantine", "release", held_id, "--reason", "looked fine", "--site", "RX1")
    assert release.exit_code == ExitStatus.QUARANTINED
    assert "withdrew consent" in release.stderr
    assert server.instance_count() == before + 2


def test_withdraw_delete_removes_the_studies_at_the_endpoint_and_records_it(
    tmp_path: Path, server: DicomWebServer, patient: FakePatient, second_patient: FakePatient
) -> None:
    summary = submit_study(study_folder(tmp_path / "in", patient, 0), server)
    submit_study(study_folder(tmp_path / "in", second_patient, 0), server)
    assert server.instance_count() == 4
    pseudonym = json.loads(Path(str(summary["receipt"])).read_bytes())["studies"][0]["pseudonym"]

    result = run(
        "withdraw", "--pseudonym", pseudonym.lower(), "--delete", "--ca-bundle", str(server.ca_file)
    )
    assert result.exit_code == 0, result.output
    assert "deleted at" in result.output
    assert server.instance_count() == 2  # the other patient's study stays
    request = Path(result.output.split("withdrawal request ")[1].split(":")[0])
    (study,) = json.loads(request.read_bytes())["studies"]
    assert study["deletion"].startswith("deleted at")
    logs = Path(str(summary["audit_log"])).parent.glob("audit-*.jsonl")
    records = [json.loads(line) for log in logs for line in log.read_text().splitlines()]
    assert [r["type"] for r in records if r["type"] in ("withdrawal", "deletion")] == [
        "withdrawal",
        "deletion",
    ]
    assert "deleted" in run("status").output


def test_delete_where_the_endpoint_cannot_delete_says_so_and_still_holds(
    tmp_path: Path, patient: FakePatient
) -> None:
    with dicomweb_server(tmp_path / "plain") as plain:
        send(study_folder(tmp_path / "in", patient, 0), plain)
        result = run(
            "withdraw", "--patient-id", patient.patient_id, "--delete",
            "--ca-bundle", str(plain.ca_file),
        )  # fmt: skip
        assert result.exit_code == ExitStatus.ENDPOINT, result.output
        assert "does not support DICOMweb study deletion" in result.output
        assert plain.instance_count() == 2
        later = send(study_folder(tmp_path / "later", patient, 1), plain)
        assert later.exit_code == ExitStatus.QUARANTINED
        assert plain.instance_count() == 2


def test_a_patient_withdrawn_before_anything_was_sent_is_held_when_they_come(
    tmp_path: Path, server: DicomWebServer
) -> None:
    newcomer = FakePatient(patient_id="RX7654000", accession="ACC11223344")
    assert run("init", "--site", "RX1").exit_code == 0
    result = run("withdraw", "--patient-id", newcomer.patient_id, "--issuer", "RX HOSPITAL NUMBERS")
    assert result.exit_code == 0, result.output
    assert "0 studies, 0 instances sent" in result.output
    later = send(study_folder(tmp_path / "in", newcomer, 0), server)
    assert later.exit_code == ExitStatus.QUARANTINED, later.output
    assert server.instance_count() == 0


@pytest.mark.parametrize(
    "arguments",
    [[], ["--patient-id", "RX1", "--pseudonym", "RX1-AAAA"]],
    ids=["neither", "both"],
)
def test_withdraw_needs_one_way_to_name_the_patient(arguments: list[str]) -> None:
    result = run("withdraw", *arguments)
    assert result.exit_code == ExitStatus.USAGE
    assert result.stderr.strip().endswith("--patient-id ID or --pseudonym PSEUDONYM")
