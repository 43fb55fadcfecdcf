"""Sending to a real DICOMweb server (Orthanc behind TLS): what arrives, what is refused."""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import certifi
import pydicom
import pytest
import requests

from bsti_submit import __version__
from bsti_submit.audit import read_records
from bsti_submit.config import Settings
from bsti_submit.delivery.stow import Endpoint, StowClient
from bsti_submit.errors import ExitStatus
from bsti_submit.run import submit
from bsti_submit.testing import FakePatient, make_instance

from .helpers import cli_command, run, save, send, stow_args
from .servers import (
    SITE_PASSWORD,
    SITE_USER,
    TOKEN,
    DicomWebServer,
    dicomweb_server,
    free_port,
    listening_addresses,
)

pytestmark = pytest.mark.integration  # Orthanc behind nginx TLS

SITE = "RX1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DicomWebServer]:
    with dicomweb_server(tmp_path_factory.mktemp("dicomweb")) as running:
        yield running


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BSTI_SUBMIT_TOKEN", TOKEN)


def wado(server: DicomWebServer, study: str, series: str, sop: str) -> bytes:
    """One instance through WADO-RS, behind TLS and the token, as the collection serves it."""
    response = requests.get(
        f"{server.url}/studies/{study}/series/{series}/instances/{sop}",
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Accept": 'multipart/related; type="application/dicom"',
        },
        verify=str(server.ca_file),
        timeout=30,
    )
    response.raise_for_status()
    boundary = response.headers["Content-Type"].split("boundary=")[1].strip('"').encode()
    part = response.content.split(b"--" + boundary)[1]
    return part.split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n")


def test_a_study_arrives_complete_byte_for_byte(
    export: Path, server: DicomWebServer, tmp_path: Path
) -> None:
    local = run("submit", str(export), "--to", str(tmp_path / "local"), "--site", SITE)
    assert local.exit_code == ExitStatus.INPUT_ERRORS  # the truncated file
    expected = {path.stem: path for path in (tmp_path / "local").rglob("*.dcm")}
    result = send(export, server)
    assert result.exit_code == ExitStatus.INPUT_ERRORS, result.output
    assert "Delivered 5, already delivered before 0, not delivered 0." in result.output
    assert "delivered 4, already delivered 0, not delivered 0" in result.output
    studies = {path.parent.parent.name for path in expected.values()}
    for study in studies:
        found = requests.get(
            f"{server.url}/studies/{study}/instances",
            headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/dicom+json"},
            verify=str(server.ca_file),
            timeout=30,
        ).json()
        sops = {item["00080018"]["Value"][0] for item in found}
        assert sops == {sop for sop, path in expected.items() if path.parent.parent.name == study}
    for sop, path in expected.items():
        assert wado(server, path.parent.parent.name, path.parent.name, sop) == path.read_bytes()


def test_a_rerun_sends_nothing(export: Path, server: DicomWebServer) -> None:
    assert send(export, server).exit_code == ExitStatus.INPUT_ERRORS
    posts = server.posts()
    again = send(export, server)
    assert (
        again.exit_code == ExitStatus.INPUT_ERRORS
    )  # the truncated file is tried again: it may have been mended
    # the 5 sent and the DICOMDIR, which was reported as skipped the first time
    assert "Already taken in an earlier run, unchanged: 6 file(s)." in again.output
    assert "Delivered 0, already delivered before 0, not delivered 0." in again.output
    assert server.posts() == posts
    status = run("status")
    assert "acknowledged" in status.output and server.url in status.output


def test_batches_are_bounded(
    export: Path, server: DicomWebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BSTI_SUBMIT_BATCH_INSTANCES", "2")
    posts = server.posts()
    assert send(export, server).exit_code == ExitStatus.INPUT_ERRORS
    # the run's first instance alone (the first acknowledgement comes at once), then the other
    # 3 of its study in batches of 2, and the other study's 1
    assert server.posts() - posts == 4


def test_a_wrong_token_is_refused_and_stores_nothing(
    export: Path, server: DicomWebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BSTI_SUBMIT_TOKEN", "wrong-token-secret")
    before = server.instance_count()
    result = send(export, server)
    assert result.exit_code == ExitStatus.ENDPOINT
    assert "authentication refused (401)" in result.output
    assert "wrong-token-secret" not in result.output
    assert server.instance_count() == before


def test_an_unknown_ca_is_refused(export: Path, server: DicomWebServer) -> None:
    before = server.instance_count()
    result = run("submit", str(export), "--to", server.url, "--site", SITE)
    assert result.exit_code == ExitStatus.ENDPOINT
    assert "TLS failed" in result.output and "give its CA certificate with --ca-bundle" in (
        result.output
    )
    assert server.instance_count() == before


def test_a_wrong_host_name_is_refused(export: Path, server: DicomWebServer) -> None:
    url = server.url.replace("localhost", "127.0.0.1")
    result = run(
        "submit", str(export), "--to", url, "--site", SITE, "--ca-bundle", str(server.ca_file)
    )
    assert result.exit_code == ExitStatus.ENDPOINT
    assert "TLS failed" in result.output


def test_the_ca_bundle_wins_over_requests_environment(
    export: Path, server: DicomWebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REQUESTS_CA_BUNDLE (set on managed desktops) must not override the chosen bundle."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())
    result = send(export, server)
    assert result.exit_code == ExitStatus.INPUT_ERRORS, result.output


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/dicom-web",
        "http://127.0.0.1:8042/dicom-web",
        "htps://example.org/dicom-web",
        "https//example.org/dicom-web",
        "https:/example.org/dicom-web",
        "example.org/dicom-web",
        "localhost:8042/dicom-web",
    ],
)
def test_anything_url_like_but_not_https_is_refused(
    export: Path, tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped URL once became a folder named after it, full of de-identified files."""
    monkey_cwd = tmp_path / "cwd"
    monkey_cwd.mkdir()
    monkeypatch.chdir(monkey_cwd)
    result = run("submit", str(export), "--to", url, "--site", SITE)
    assert result.exit_code == ExitStatus.USAGE, result.output
    (line,) = result.output.strip().splitlines()
    assert f"{url} is not an https:// URL" in line
    assert not any(monkey_cwd.iterdir()), "something was written"


def test_last_sent_moves_only_when_this_run_sent(
    export: Path, server: DicomWebServer, tmp_path: Path, patient: FakePatient
) -> None:
    """The same images from a second copy of the export are already at the endpoint: nothing
    is sent, so the lookup table's "last sent" stays."""
    send(export, server)
    first = run("lookup", "--patient-id", patient.patient_id).output.split("\t")[3]
    copy = tmp_path / "second-copy"
    shutil.copytree(export, copy)
    time.sleep(1.1)  # the table records seconds
    again = send(copy, server)
    assert "already delivered" in again.output.lower(), again.output
    assert run("lookup", "--patient-id", patient.patient_id).output.split("\t")[3] == first


def test_the_test_servers_listen_on_loopback_only(server: DicomWebServer) -> None:
    orthanc_port = int(server.orthanc.rsplit(":", 1)[1])
    assert listening_addresses(orthanc_port) == {"0100007F"}  # 127.0.0.1
    assert listening_addresses(server.port) == {"0100007F"}


def test_a_patient_found_at_the_endpoint_is_added_if_missing(
    export: Path,
    server: DicomWebServer,
    tmp_path: Path,
    patient: FakePatient,
    isolated_folders: Path,
) -> None:
    """A run killed between the endpoint's acknowledgement and the lookup table's note: the
    next run finds the instances there already, and must still note the patient."""
    send(export, server)
    (table,) = isolated_folders.rglob("lookup.sqlite")
    table.unlink()  # as if the note had never been made
    copy = tmp_path / "again"
    shutil.copytree(export, copy)
    assert "already delivered" in send(copy, server).output.lower()
    found = run("lookup", "--patient-id", patient.patient_id)
    assert found.exit_code == ExitStatus.SUCCESS and "RX1-" in found.output, found.output


def large_export(folder: Path, patient: FakePatient, count: int) -> Path:
    """`count` CT slices of 512 x 512 16-bit pixels (about half a megabyte each), in 2 studies."""
    from bsti_submit.testing import make_ct_slice

    for index in range(count):
        dataset = make_ct_slice(patient, index)
        if index % 2:
            dataset.StudyInstanceUID = dataset.StudyInstanceUID + ".2"
            dataset.SeriesInstanceUID = dataset.SeriesInstanceUID + ".2"
        save(dataset, folder / f"slice{index:03d}")
    return folder


def test_instances_are_sent_while_the_rest_are_cleaned_and_the_spool_stays_small(
    server: DicomWebServer,
    tmp_path: Path,
    patient: FakePatient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A backfill used to clean everything into the spool before the first byte left."""
    source = large_export(tmp_path / "in", patient, 12)
    monkeypatch.setenv("BSTI_SUBMIT_SPOOL_MEGABYTES", "1")
    monkeypatch.setenv("BSTI_SUBMIT_TOKEN", TOKEN)
    settings = Settings.load(site=SITE, ca_bundle=server.ca_file)
    summary = submit(source, server.url, settings)
    assert summary.delivery is not None and summary.delivery.delivered == 12
    one_slice = max(path.stat().st_size for path in source.iterdir())
    assert summary.peak_spool_bytes <= (1 << 20) + one_slice  # a megabyte and one more instance
    assert summary.audit_log is not None
    kinds = [
        (record["type"], record.get("status", ""))
        for record in read_records(summary.audit_log)
        if record["type"] in ("file", "delivery")
    ]
    first_sent = kinds.index(("delivery", "delivered"))
    last_written = max(index for index, kind in enumerate(kinds) if kind == ("file", "written"))
    assert first_sent < last_written, "nothing was sent before everything was cleaned"
    studies = [record for record in read_records(summary.audit_log) if record["type"] == "study"]
    assert sorted(record["delivered"] for record in studies) == [6, 6]


def test_a_study_whose_last_instance_is_held_finishes_with_its_counts(
    server: DicomWebServer, tmp_path: Path, patient: FakePatient
) -> None:
    for index in range(3):
        dataset = make_instance(patient, instance=index)
        if index == 2:  # the last in source order: the header says text is burned in
            dataset.BurnedInAnnotation = "YES"
        save(dataset, tmp_path / "in" / f"image{index}")
    result = run(*stow_args(tmp_path / "in", server))
    assert result.exit_code == ExitStatus.QUARANTINED, result.output
    log = Path(result.output.split("Audit log: ")[1].split()[0])
    (study,) = [record for record in read_records(log) if record["type"] == "study"]
    assert (study["delivered"], study["already_delivered"], study["failed"]) == (2, 0, 0)


def test_requests_say_they_come_from_bsti_submit(export: Path, server: DicomWebServer) -> None:
    before = len(server.access_log.read_text().splitlines())  # other tests share the server
    send(export, server)
    lines = server.access_log.read_text().splitlines()[before:]
    requests_made = [line for line in lines if "/dicom-web/" in line]  # not the fixture's probe
    assert requests_made and all(f'"bsti-submit/{__version__}"' in line for line in requests_made)


def test_a_scheme_in_capitals_is_an_endpoint(export: Path, server: DicomWebServer) -> None:
    capitals = [arg.replace("https://", "HTTPS://") for arg in stow_args(export, server)]
    result = run(*capitals)
    assert result.exit_code == ExitStatus.INPUT_ERRORS, (
        result.output
    )  # delivered; the export's truncated file failed
    again = send(export, server)  # the same endpoint, spelt as usual, has it all already
    assert "already delivered" in again.output.lower(), again.output


def test_check_endpoint(server: DicomWebServer, monkeypatch: pytest.MonkeyPatch) -> None:
    good = run("check-endpoint", server.url, "--ca-bundle", str(server.ca_file))
    assert good.exit_code == ExitStatus.SUCCESS and "OK" in good.output
    missing = run("check-endpoint", server.url + "/nowhere", "--ca-bundle", str(server.ca_file))
    assert missing.exit_code == ExitStatus.ENDPOINT
    monkeypatch.setenv("BSTI_SUBMIT_TOKEN", "nope")
    refused = run("check-endpoint", server.url, "--ca-bundle", str(server.ca_file))
    assert refused.exit_code == ExitStatus.ENDPOINT and "authentication refused" in refused.output


def test_http_basic_authentication(
    export: Path, server: DicomWebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BSTI_SUBMIT_TOKEN")
    monkeypatch.setenv("BSTI_SUBMIT_USERNAME", SITE_USER)
    monkeypatch.setenv("BSTI_SUBMIT_PASSWORD", SITE_PASSWORD)
    result = send(export, server)
    assert result.exit_code == ExitStatus.INPUT_ERRORS, result.output
    assert "Delivered 5" in result.output and SITE_PASSWORD not in result.output


def test_client_certificates(
    export: Path, server: DicomWebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BSTI_SUBMIT_TOKEN")
    arguments = [a if a != server.url else server.mtls_url for a in stow_args(export, server)]
    without = run(*arguments)
    assert without.exit_code == ExitStatus.ENDPOINT
    monkeypatch.setenv("BSTI_SUBMIT_CLIENT_CERT", str(server.client_cert))
    monkeypatch.setenv("BSTI_SUBMIT_CLIENT_KEY", str(server.client_key))
    with_cert = run(*arguments)
    assert with_cert.exit_code == ExitStatus.INPUT_ERRORS, with_cert.output
    assert "Delivered 5" in with_cert.output


def test_a_proxy_that_refuses_is_named(
    server: DicomWebServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
    result = run("check-endpoint", server.url, "--ca-bundle", str(server.ca_file))
    assert result.exit_code == ExitStatus.ENDPOINT
    assert "proxy" in result.output


def test_progress_bars_only_on_a_terminal(export: Path, server: DicomWebServer) -> None:
    """Under a pseudo-terminal rich draws bars; through a pipe (cron) there is no escape code."""
    command = cli_command(*stow_args(export, server))
    piped = subprocess.run(command, capture_output=True, text=True, env=os.environ, timeout=120)
    assert piped.returncode == ExitStatus.INPUT_ERRORS
    assert "\x1b[" not in piped.stdout + piped.stderr
    assert "study " in piped.stdout and "Delivered 5, already delivered before 0" in piped.stdout
    # two workers: forked while the bars are up
    returncode, screen = on_a_terminal(command, BSTI_SUBMIT_WORKERS="2")
    assert returncode == ExitStatus.INPUT_ERRORS
    assert b"\x1b[" in screen and b"De-identifying" in screen
    assert re.search(rb" of [0-9]+ files", screen), screen  # done of the files found, and a rate
    assert b"/s" in screen  # files a second


def on_a_terminal(command: list[str], **environment: str) -> tuple[int, bytes]:
    """Run a command under a pseudo-terminal 120 columns wide: its exit code and all it drew."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", **environment},
    )
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    return process.wait(timeout=120), screen


def test_progress_shows_cleaning_and_sending_at_once(
    tmp_path: Path, server: DicomWebServer
) -> None:
    """While files are still being de-identified, the sending bar is up beside theirs, with the
    instances answered of an estimate of those to be sent, its rate and the time left."""
    from bsti_submit.testing import make_ct_slice

    for index in range(120):
        save(make_ct_slice(FakePatient(), index), tmp_path / "in" / f"ct{index:03d}")
    command = cli_command(*stow_args(tmp_path / "in", server))
    returncode, screen = on_a_terminal(command, BSTI_SUBMIT_WORKERS="1")
    assert returncode == ExitStatus.SUCCESS, screen[-2000:]
    text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b" ", screen).decode(errors="replace")
    both = re.findall(
        r"De-identifying.*? (\d+) of 120 files .*?/s .*?(\d+:\d\d:\d\d)"
        r"\s+\S*\s*Sending.*? (\d+) of ~(\d+) instances .*?/s .*?(\d+:\d\d:\d\d)",
        text,
    )
    assert both, text[-3000:]
    cleaned, _, answered, expected, _ = both[-1]
    assert int(cleaned) < 120 and 0 < int(answered) <= int(expected) <= 120


def test_one_bad_part_fails_alone_while_the_rest_is_stored(
    server: DicomWebServer, tmp_path: Path, patient: FakePatient
) -> None:
    """The server answers 400 for the batch but stores its good part: delivery is judged per
    instance from the response body."""
    good = save(make_instance(patient, study=7), tmp_path / "good.dcm")
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"not DICOM at all" * 100)
    dataset = pydicom.dcmread(good)
    client = StowClient(Endpoint(server.url, ca_bundle=server.ca_file, token=TOKEN, retries=0))
    outcomes = client.store(
        str(dataset.StudyInstanceUID), {str(dataset.SOPInstanceUID): good, "1.2.3.4": bad}
    )
    client.close()
    stored = {outcome.sop: outcome for outcome in outcomes}
    assert stored[str(dataset.SOPInstanceUID)].stored
    assert not stored["1.2.3.4"].stored and not stored["1.2.3.4"].retry


def test_secrets_stay_out_of_the_audit_log(
    export: Path, server: DicomWebServer, isolated_folders: Path
) -> None:
    assert send(export, server).exit_code == ExitStatus.INPUT_ERRORS
    for log in isolated_folders.rglob("*.jsonl"):
        assert TOKEN not in log.read_text()


def test_a_held_instance_is_released_to_its_endpoint_with_the_submit_settings(
    tmp_path: Path, server: DicomWebServer, patient: FakePatient
) -> None:
    """A release sends to the endpoint the instance was bound for, cleaned again under the
    profile and CA bundle the submit used; without the CA bundle, TLS refuses it."""
    dataset = make_instance(patient, study=7)
    dataset.BurnedInAnnotation = "YES"
    source = save(dataset, tmp_path / "in" / "held").parent
    submitted = run(*stow_args(source, server), "--profile", "ps315-basic")
    assert submitted.exit_code == ExitStatus.QUARANTINED, submitted.output
    held_id = run("quarantine", "list").output.split()[0]
    accept = (
        "--accept-finding",
        "burned-in text: BurnedInAnnotation YES, and no text was found to mask",
    )
    release = ("quarantine", "release", held_id, "--reason", "pixels reviewed", *accept)
    refused = run(*release, "--profile", "ps315-basic")
    assert refused.exit_code == ExitStatus.ENDPOINT, refused.output
    before = len(server.stored_files())
    released = run(*release, "--profile", "ps315-basic", "--ca-bundle", str(server.ca_file))
    assert released.exit_code == ExitStatus.SUCCESS, released.output
    assert f"to {server.url}" in released.output
    assert len(server.stored_files()) == before + 1
