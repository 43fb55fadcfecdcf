"""`bsti-submit retrieve` and `check-pacs` against Orthanc's DICOM port as the trust's PACS."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bsti_submit.errors import ExitStatus
from bsti_submit.testing import FakePatient, make_instance

from .helpers import SITE, planted_identifiers, run, save
from .servers import TOKEN, Pacs, dicomweb_server, free_port, pacs_server
from .test_listen import start_listener, stop

pytestmark = pytest.mark.integration  # a real PACS on loopback

NODE = "BSTISUBMIT"


@pytest.fixture
def node_port() -> int:
    return free_port()


@pytest.fixture
def pacs(
    tmp_path: Path,
    node_port: int,
    patient: FakePatient,
    second_patient: FakePatient,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Pacs]:
    """A PACS holding a CT study of `patient` (4 instances, 2 series) and a CR study of
    `second_patient`, that knows this node as BSTISUBMIT at `node_port`; settings point at it."""
    files = [
        save(make_instance(patient, 0, series, index), tmp_path / "load" / f"ct{series}{index}")
        for series in range(2)
        for index in range(2)
    ]
    files.append(save(make_instance(second_patient, 0, 0, 0, "CR"), tmp_path / "load" / "cr"))
    with pacs_server(tmp_path / "pacs", {NODE: node_port}) as server:
        server.upload(files)
        settings = {
            "BSTI_SUBMIT_PACS_HOST": "127.0.0.1",
            "BSTI_SUBMIT_PACS_PORT": str(server.dicom_port),
            "BSTI_SUBMIT_PACS_AE_TITLE": "ORTHANC",
            "BSTI_SUBMIT_PACS_TIMEOUT": "10",
            "BSTI_SUBMIT_LISTEN_ADDRESS": "127.0.0.1",
            "BSTI_SUBMIT_LISTEN_PORT": str(node_port),
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        assert run("init", "--site", SITE).exit_code == ExitStatus.SUCCESS
        yield server


def written(out: Path) -> bytes:
    return b"".join(path.read_bytes() for path in out.rglob("*.dcm"))


def inbox(isolated_folders: Path) -> Path:
    return isolated_folders / "xdg_state_home" / "bsti-submit" / "inbox"


def test_a_study_moved_by_accession_arrives_cleaned_and_leaves_no_inbox_copy(
    pacs: Pacs, tmp_path: Path, patient: FakePatient, isolated_folders: Path
) -> None:
    out = tmp_path / "out"
    result = run("retrieve", "--accession", patient.accession, "--to", str(out))
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    assert (
        "Study 1/1: 4 instance(s) retrieved; 4 sent or written, 0 held, 0 failed" in result.output
    )
    assert len(list(out.rglob("*.dcm"))) == 4  # the CR study of the other patient stays
    for planted in planted_identifiers(patient):
        assert planted.encode() not in written(out), planted
    assert patient.accession not in result.output
    assert not [path for path in inbox(isolated_folders).rglob("*") if path.is_file()]


def test_a_study_fetched_by_c_get_reaches_the_endpoint_cleaned(
    pacs: Pacs,
    tmp_path: Path,
    second_patient: FakePatient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BSTI_SUBMIT_PACS_RETRIEVE", "get")
    # the modalities' network: a C-GET comes back over this node's own association regardless
    monkeypatch.setenv("BSTI_SUBMIT_ALLOWED_CALLING_ADDRESSES", "10.20.0.0/16")
    with dicomweb_server(tmp_path / "server") as server:
        monkeypatch.setenv("BSTI_SUBMIT_TOKEN", TOKEN)
        monkeypatch.setenv("BSTI_SUBMIT_CA_BUNDLE", str(server.ca_file))
        result = run("retrieve", "--patient-id", second_patient.patient_id, "--to", server.url)
        assert result.exit_code == ExitStatus.SUCCESS, result.output
        assert server.instance_count() == 1
        stored = b"".join(server.stored_files().values())
    for planted in planted_identifiers(second_patient):
        assert planted.encode() not in stored, planted


def test_a_dry_run_counts_by_modality_and_names_nobody_unless_asked(
    pacs: Pacs, tmp_path: Path, patient: FakePatient, second_patient: FakePatient
) -> None:
    listed = tmp_path / "cases.csv"
    listed.write_text(
        f"Case,Accession Number\n1,{patient.accession}\n2,{second_patient.accession}\n3,NOSUCH1\n"
    )
    result = run("retrieve", "--accessions", str(listed), "--dry-run")
    assert result.exit_code == ExitStatus.INPUT_ERRORS, result.output
    assert "Would fetch 2 study(ies), 5 instance(s)" in result.output
    assert "  CT: 1 study(ies)" in result.output and "  CR: 1 study(ies)" in result.output
    assert "No study on the PACS for 1 accession number(s)" in result.output
    for value in [patient.accession, patient.patient_id, second_patient.patient_id, "NOSUCH1"]:
        assert value not in result.output
    assert not (tmp_path / "out").exists()
    shown = run("retrieve", "--accessions", str(listed), "--dry-run", "--show-values")
    assert f"accession {patient.accession}, patient ID {patient.patient_id}" in shown.output
    assert "NOSUCH1" in shown.output


def test_study_date_and_modality_narrow_the_query(
    pacs: Pacs, tmp_path: Path, second_patient: FakePatient
) -> None:
    every = run("retrieve", "--study-date", "19000101-20991231", "--dry-run")
    assert "Would fetch 2 study(ies), 5 instance(s)" in every.output, every.output
    chest_films = run(
        "retrieve", "--study-date", "19000101-20991231", "--modality", "CR", "--dry-run"
    )
    assert "Would fetch 1 study(ies), 1 instance(s)" in chest_films.output
    date = second_patient.study_date
    that_day = run("retrieve", "--study-date", date, "--dry-run")
    assert "Would fetch 1 study(ies), 1 instance(s)" in that_day.output
    none = run("retrieve", "--study-date", "19990101", "--modality", "CT", "--dry-run")
    assert "Would fetch 0 study(ies)" in none.output
    assert none.exit_code == ExitStatus.SUCCESS
    nothing = run("retrieve", "--study-date", "19990101", "--to", str(tmp_path / "out"))
    assert nothing.exit_code == ExitStatus.SUCCESS
    assert nothing.output == "No study on the PACS matched.\n"


def test_a_running_listener_receives_what_retrieve_asks_for(
    pacs: Pacs, tmp_path: Path, patient: FakePatient, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    monkeypatch.setenv("BSTI_SUBMIT_ALLOWED_CALLING_AE_TITLES", "MODALITY")
    monkeypatch.setenv("BSTI_SUBMIT_QUIET_SECONDS", "1")
    listener = start_listener(out)
    try:
        result = run("retrieve", "--accession", patient.accession, "--to", str(out))
        assert result.exit_code == ExitStatus.SUCCESS, result.output
        assert "Study 1/1: 4 instance(s) retrieved\n" in result.output
        assert "A listener runs on this state folder" in result.output
        assert listener.stdout is not None
        assert listener.stdout.readline().startswith("A study: 4 instance(s) sent or written")
    finally:
        status, _ = stop(listener)
    assert status == ExitStatus.SUCCESS
    assert len(list(out.rglob("*.dcm"))) == 4


def test_a_pacs_that_does_not_know_this_node_is_named_in_one_line(
    pacs: Pacs, tmp_path: Path, patient: FakePatient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BSTI_SUBMIT_LISTEN_AE_TITLE", "STRANGER")
    result = run("retrieve", "--accession", patient.accession, "--to", str(tmp_path / "out"))
    assert result.exit_code == ExitStatus.ENDPOINT
    assert result.output.startswith("bsti-submit: error: PACS ORTHANC at 127.0.0.1:")
    assert len(result.output.splitlines()) == 1 and "Traceback" not in result.output


def test_a_pacs_that_is_not_there_fails_quickly_with_one_line(
    pacs: Pacs, tmp_path: Path, patient: FakePatient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BSTI_SUBMIT_PACS_PORT", str(free_port()))
    monkeypatch.setenv("BSTI_SUBMIT_PACS_TIMEOUT", "2")
    result = run("retrieve", "--accession", patient.accession, "--to", str(tmp_path / "out"))
    assert result.exit_code == ExitStatus.ENDPOINT
    assert "did not answer within 2 s" in result.output
    assert run("check-pacs").exit_code == ExitStatus.ENDPOINT


def test_check_pacs_and_doctor_prove_the_dicom_set_up(pacs: Pacs, node_port: int) -> None:
    checked = run("check-pacs")
    assert checked.exit_code == ExitStatus.SUCCESS, checked.output
    assert checked.output.startswith("OK: PACS ORTHANC at 127.0.0.1:")
    assert "C-ECHO and a study-root C-FIND" in checked.output
    doctor = run("doctor")
    assert "ok   PACS: PACS ORTHANC" in doctor.output, doctor.output
    assert f"ok   listen port: 127.0.0.1 port {node_port} can be listened on" in doctor.output
    with socket.socket() as holder:  # something else has the port
        holder.bind(("127.0.0.1", node_port))
        holder.listen()
        busy = run("doctor")
    assert f"FAIL listen port: cannot listen on 127.0.0.1 port {node_port}" in busy.output
    assert busy.exit_code == ExitStatus.CONFIG
