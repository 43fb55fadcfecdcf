"""`bsti-submit listen`: dcmtk's storescu, a real sending modality, pushes studies to it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from bsti_submit.errors import ExitStatus
from bsti_submit.testing import FakePatient, make_ct_slice

from .helpers import SITE, cli_command, run, save
from .servers import TOKEN, dicomweb_server, free_port

pytestmark = pytest.mark.integration  # real DICOM network peers, processes killed


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Settings for a listener on a free loopback port that the modality MODALITY may call."""
    settings = {
        "BSTI_SUBMIT_LISTEN_ADDRESS": "127.0.0.1",
        "BSTI_SUBMIT_LISTEN_PORT": str(free_port()),
        "BSTI_SUBMIT_ALLOWED_CALLING_AE_TITLES": "PACS, MODALITY",
        "BSTI_SUBMIT_ALLOWED_CALLING_ADDRESSES": "127.0.0.0/8, ::1",
        "BSTI_SUBMIT_QUIET_SECONDS": "1",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    assert run("init", "--site", SITE).exit_code == ExitStatus.SUCCESS
    return settings


def start_listener(
    destination: Path | str, echo_first: bool = True, **extra: str
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        cli_command("listen", "--to", str(destination)),
        env={**os.environ, **extra},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while time.monotonic() < deadline:  # it says so once it listens
        line = process.stdout.readline()
        if line.startswith("Listening as"):  # true from then on: no retry needed
            if echo_first:
                echo(os.environ["BSTI_SUBMIT_LISTEN_PORT"])
            return process
        if process.poll() is not None:
            break
    raise AssertionError(
        f"the listener did not start: {process.stderr.read() if process.stderr else ''}"
    )


def echo(port: str) -> None:
    """C-ECHO from the modality, as a PACS administrator checks a new node."""
    done = subprocess.run(
        ["echoscu", "-aet", "MODALITY", "-aec", "BSTISUBMIT", "127.0.0.1", port],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def study(tmp_path: Path) -> Path:
    for index in range(12):
        save(make_ct_slice(FakePatient(), index), tmp_path / "study" / f"slice{index:02d}")
    return tmp_path / "study"


STORESCU = ["storescu", "+sd", "+r", "-aet", "MODALITY", "-aec", "BSTISUBMIT", "127.0.0.1"]


def storescu(
    port: str, folder: Path, calling: str = "MODALITY"
) -> subprocess.CompletedProcess[str]:
    command = [calling if part == "MODALITY" else part for part in STORESCU]
    return subprocess.run(
        [*command, port, str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def wait_for_files(folder: Path, count: int, seconds: float = 60, poll: float = 0.2) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(list(folder.rglob("*.dcm"))) < count:
        time.sleep(poll)
    return len(list(folder.rglob("*.dcm")))


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM, as systemd stops a service; the node says what waits in its inbox."""
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert "Stopped. Studies received and not yet sent:" in stdout, stderr
    return process.returncode, stderr


def test_a_pushed_study_arrives_cleaned_and_leaves_no_inbox_copy(
    node: dict[str, str], study: Path, tmp_path: Path, isolated_folders: Path
) -> None:
    out = tmp_path / "out"
    listener = start_listener(out)
    try:
        sent = storescu(node["BSTI_SUBMIT_LISTEN_PORT"], study)
        assert sent.returncode == 0, sent.stderr
        assert wait_for_files(out, 12) == 12
        assert listener.stdout is not None
        assert listener.stdout.readline().startswith("A study: 12 instance(s) sent or written")
    finally:
        status, stderr = stop(listener)
    assert status == ExitStatus.SUCCESS and "Traceback" not in stderr  # a clean stop
    written = b"".join(path.read_bytes() for path in out.rglob("*.dcm"))
    assert FakePatient().patient_id.encode() not in written
    inbox = isolated_folders / "xdg_state_home" / "bsti-submit" / "inbox"
    assert inbox.stat().st_mode & 0o777 == 0o700
    assert not [path for path in inbox.rglob("*") if path.is_file()], (
        "an identifiable copy outlived its study"
    )


def test_a_study_sent_again_is_written_again_and_leaves_no_inbox_copy(
    node: dict[str, str], study: Path, tmp_path: Path, isolated_folders: Path
) -> None:
    out = tmp_path / "out"
    listener = start_listener(out)
    assert listener.stdout is not None
    try:
        said = []
        for _ in range(2):  # PACS resends a study it is not sure went
            assert storescu(node["BSTI_SUBMIT_LISTEN_PORT"], study).returncode == 0
            said.append(listener.stdout.readline())
    finally:
        stop(listener)
    assert all(line.startswith("A study: 12 instance(s) sent or written") for line in said)
    assert len(list(out.rglob("*.dcm"))) == 12
    inbox = isolated_folders / "xdg_state_home" / "bsti-submit" / "inbox"
    assert not [path for path in inbox.rglob("*") if path.is_file()], (
        "an identifiable copy outlived its study"
    )


def test_an_unknown_ae_is_refused_and_logged(
    node: dict[str, str], study: Path, tmp_path: Path, isolated_folders: Path
) -> None:
    listener = start_listener(tmp_path / "out")
    try:
        refused = storescu(node["BSTI_SUBMIT_LISTEN_PORT"], study, calling="STRANGER")
        assert "Calling AE Title Not Recognized" in refused.stdout + refused.stderr
    finally:
        _, stderr = stop(listener)
    assert "bsti-submit: refused an association from STRANGER at 127.0.0.1" in stderr
    assert "bsti-submit: accepted an association from MODALITY at 127.0.0.1" in stderr  # echo
    (day_log,) = (isolated_folders / "xdg_state_home" / "bsti-submit" / "log").glob("*.log")
    logged = day_log.read_text()
    assert "refused an association from STRANGER at 127.0.0.1" in logged
    assert "accepted an association from MODALITY at 127.0.0.1" in logged
    inbox = isolated_folders / "xdg_state_home" / "bsti-submit" / "inbox"
    assert not list(inbox.rglob("*.dcm"))
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.dcm"))


def test_a_sender_from_an_address_not_allowed_is_refused(
    node: dict[str, str], study: Path, tmp_path: Path, isolated_folders: Path
) -> None:
    listener = start_listener(
        tmp_path / "out", echo_first=False, BSTI_SUBMIT_ALLOWED_CALLING_ADDRESSES="10.20.0.0/16"
    )
    try:
        refused = storescu(node["BSTI_SUBMIT_LISTEN_PORT"], study)  # right AE title, wrong host
        assert refused.returncode != 0
    finally:
        _, stderr = stop(listener)
    assert "refused a connection from 127.0.0.1: not in allowed_calling_addresses" in stderr
    assert not list((isolated_folders / "xdg_state_home" / "bsti-submit" / "inbox").rglob("*.dcm"))


def test_a_listener_killed_after_receiving_sends_everything_on_restart(
    node: dict[str, str], study: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    listener = start_listener(out, BSTI_SUBMIT_QUIET_SECONDS="3600")  # receives, never sends
    try:
        sent = storescu(node["BSTI_SUBMIT_LISTEN_PORT"], study)
        assert sent.returncode == 0, sent.stderr
    finally:
        listener.kill()  # SIGKILL: no clean-up at all
        listener.communicate(timeout=60)
    assert not out.exists() or not list(out.rglob("*.dcm"))
    restarted = start_listener(out)
    try:
        assert wait_for_files(out, 12) == 12
    finally:
        stop(restarted)


def test_a_listener_killed_during_a_push_loses_nothing_once_the_study_is_sent_again(
    node: dict[str, str], tmp_path: Path, isolated_folders: Path
) -> None:
    slices = tmp_path / "long-study"
    for index in range(60):
        save(make_ct_slice(FakePatient(), index, rows=128, columns=128), slices / f"s{index:02d}")
    out = tmp_path / "out"
    listener = start_listener(out, BSTI_SUBMIT_QUIET_SECONDS="3600")
    inbox = isolated_folders / "xdg_state_home" / "bsti-submit" / "inbox"
    push = subprocess.Popen(
        [*STORESCU, node["BSTI_SUBMIT_LISTEN_PORT"], str(slices)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_files(inbox, 5, poll=0.005)
    finally:
        listener.kill()  # mid-push: the modality sees the association drop
        listener.communicate(timeout=60)
    assert push.wait(timeout=60) != 0, "the push ended before the kill"
    assert 5 <= len(list(inbox.rglob("*.dcm"))) < 60
    restarted = start_listener(out)
    try:
        assert storescu(node["BSTI_SUBMIT_LISTEN_PORT"], slices).returncode == 0  # resent
        assert wait_for_files(out, 60) == 60
    finally:
        stop(restarted)
    assert not [path for path in out.rglob("*") if path.name.endswith(".partial")]
    assert not [path for path in inbox.rglob("*") if path.is_file()]


def test_two_listeners_cannot_share_a_state_folder(node: dict[str, str], tmp_path: Path) -> None:
    first = start_listener(tmp_path / "out")
    try:
        second = subprocess.run(
            cli_command("listen", "--to", str(tmp_path / "out"), "--port", str(free_port())),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == ExitStatus.ALREADY_RUNNING, second.stderr
        assert "another bsti-submit run" in second.stderr
    finally:
        stop(first)


def test_a_listener_with_no_sender_allowed_does_not_start(tmp_path: Path) -> None:
    run("init", "--site", SITE)
    refused = run("listen", "--to", str(tmp_path / "out"), "--ae-title", "BSTISUBMIT")
    assert refused.exit_code == ExitStatus.CONFIG
    assert "set allowed_calling_ae_titles" in refused.output


def test_a_listener_whose_destination_cannot_take_a_study_does_not_start(
    node: dict[str, str], tmp_path: Path
) -> None:
    def listen_to(destination: str) -> subprocess.CompletedProcess[str]:
        # a child process, so a listener that wrongly starts fails the test (timeout), not hangs
        command = cli_command("listen", "--to", destination)
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    unreachable = listen_to(f"https://localhost:{free_port()}/dicom-web")
    assert unreachable.returncode == ExitStatus.ENDPOINT
    assert unreachable.stderr.startswith("bsti-submit: error: cannot reach localhost")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    unwritable = listen_to(str(blocker / "out"))
    assert unwritable.returncode == ExitStatus.CONFIG
    assert "destination folder" in unwritable.stderr and "cannot be written" in unwritable.stderr


def test_a_pushed_study_reaches_the_dicomweb_endpoint(
    node: dict[str, str], study: Path, tmp_path: Path
) -> None:
    with dicomweb_server(tmp_path / "server") as server:
        listener = start_listener(
            server.url,
            BSTI_SUBMIT_TOKEN=TOKEN,
            BSTI_SUBMIT_CA_BUNDLE=str(server.ca_file),
        )
        assert listener.stdout is not None
        try:
            assert storescu(node["BSTI_SUBMIT_LISTEN_PORT"], study).returncode == 0
            assert listener.stdout.readline().startswith("A study: 12 instance(s) sent")
            posts = server.posts()
            assert storescu(node["BSTI_SUBMIT_LISTEN_PORT"], study).returncode == 0  # again
            again = listener.stdout.readline()
        finally:
            stop(listener)
        assert "12 acknowledged before" in again, again
        assert server.posts() == posts, "a study PACS sent again was sent to the endpoint again"
        assert server.instance_count() == 12
        stored = b"".join(server.stored_files().values())
        assert FakePatient().patient_id.encode() not in stored


def test_a_node_whose_endpoint_goes_down_keeps_receiving_and_keeps_the_study(
    node: dict[str, str], study: Path, tmp_path: Path, isolated_folders: Path
) -> None:
    with ExitStack() as endpoint:
        server = endpoint.enter_context(dicomweb_server(tmp_path / "server"))
        listener = start_listener(
            server.url, BSTI_SUBMIT_TOKEN=TOKEN, BSTI_SUBMIT_CA_BUNDLE=str(server.ca_file)
        )
    try:  # the endpoint is gone now
        assert storescu(node["BSTI_SUBMIT_LISTEN_PORT"], study).returncode == 0
        assert listener.stderr is not None
        said = listener.stderr.readline()
        while said.startswith("bsti-submit: accepted"):
            said = listener.stderr.readline()
        assert said.startswith("bsti-submit: a study could not be sent (EndpointError)")
        assert listener.stderr.readline().startswith("bsti-submit: error: cannot reach localhost")
        echo(node["BSTI_SUBMIT_LISTEN_PORT"])  # still listening
    finally:
        status, _ = stop(listener)
    assert status == ExitStatus.SUCCESS
    (day_log,) = (isolated_folders / "xdg_state_home" / "bsti-submit" / "log").glob("*.log")
    logged = day_log.read_text()
    assert "a study could not be sent (EndpointError)" in logged
    assert "cannot reach" not in logged, "the day log records errors by kind only"
    inbox = isolated_folders / "xdg_state_home" / "bsti-submit" / "inbox"
    assert len(list(inbox.rglob("*.dcm"))) == 12


def test_an_instance_the_endpoint_did_not_acknowledge_stays_and_is_sent_later(
    node: dict[str, str], study: Path, tmp_path: Path, isolated_folders: Path
) -> None:
    with dicomweb_server(tmp_path / "server", faults=["503"]) as server:
        listener = start_listener(
            server.url,
            BSTI_SUBMIT_TOKEN=TOKEN,
            BSTI_SUBMIT_CA_BUNDLE=str(server.ca_file),
            BSTI_SUBMIT_RETRIES="0",  # the first batch fails outright
            BSTI_SUBMIT_QUIET_SECONDS="3",
        )
        try:
            assert storescu(node["BSTI_SUBMIT_LISTEN_PORT"], study).returncode == 0
            inbox = isolated_folders / "xdg_state_home" / "bsti-submit" / "inbox"
            assert listener.stdout is not None
            assert listener.stdout.readline().startswith("A study:")  # the first try is over
            acknowledged = server.instance_count()
            assert acknowledged < 12  # the refused batch
            assert len(list(inbox.rglob("*.dcm"))) == 12 - acknowledged, "unsent ones deleted"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and server.instance_count() < 12:
                time.sleep(0.2)
        finally:
            stop(listener)
        assert server.instance_count() == 12
        assert not list(inbox.rglob("*.dcm"))
