"""Hospital networks drop connections and servers get busy: every instance still ends up stored
exactly once, and a killed run resumes where it stopped."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from bsti_submit.errors import ExitStatus

from .helpers import cli_command, run, send, stow_args
from .servers import TOKEN, dicomweb_server

pytestmark = pytest.mark.integration  # Orthanc behind nginx TLS

SITE = "RX1"


@pytest.fixture(autouse=True)
def settings_for_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BSTI_SUBMIT_TOKEN", TOKEN)
    monkeypatch.setenv("BSTI_SUBMIT_BATCH_INSTANCES", "2")
    monkeypatch.setenv("BSTI_SUBMIT_IDLE_TIMEOUT", "2")
    monkeypatch.setenv("BSTI_SUBMIT_RETRY_BACKOFF", "0.05")  # faults, not waiting, are tested


def delivered_rows(state_dir: Path) -> list[tuple[str, str]]:
    return _rows(state_dir, "SELECT sop, status FROM deliveries")


def taken_sources(state_dir: Path) -> int:
    """Source files the state remembers as done (committed just after their acknowledgement)."""
    rows = _rows(state_dir, "SELECT COUNT(*) FROM sources")
    return int(rows[0][0]) if rows else 0


def _rows(state_dir: Path, query: str) -> list[tuple[str, str]]:
    """A query's rows; none while a starting run has not made its database yet."""
    if not (state_dir / "state.sqlite").exists():
        return []
    with sqlite3.connect(state_dir / "state.sqlite") as connection:
        try:
            return connection.execute(query).fetchall()
        except sqlite3.OperationalError:  # the schema is still being written
            return []


def test_faults_on_the_way_still_store_every_instance_once(
    export: Path, tmp_path: Path, isolated_folders: Path
) -> None:
    faults = ["reset", "503", "429", "stall", "ok", "reset"]
    with dicomweb_server(tmp_path / "server", faults=faults) as server:
        result = send(export, server)
        assert result.exit_code == ExitStatus.INPUT_ERRORS, result.output  # only the truncated file
        assert "Delivered 5, already delivered before 0, not delivered 0." in result.output
        assert server.instance_count() == 5
        rows = delivered_rows(isolated_folders / "xdg_state_home" / "bsti-submit")
        assert sorted(status for _, status in rows) == ["acknowledged"] * 5


def test_retries_are_bounded_and_failures_reported(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BSTI_SUBMIT_RETRIES", "1")
    with dicomweb_server(tmp_path / "server", faults=["503"] * 10) as server:
        result = send(export, server)
        assert result.exit_code == ExitStatus.PARTIAL_DELIVERY, result.output
        assert "not delivered" in result.output and "HTTP 503" in result.output


def test_a_killed_run_resumes_without_loss_or_duplicates(
    export: Path, tmp_path: Path, isolated_folders: Path
) -> None:
    state = isolated_folders / "xdg_state_home" / "bsti-submit"
    with dicomweb_server(tmp_path / "server", faults=["slow"] * 3) as server:
        command = cli_command(*stow_args(export, server))
        process = subprocess.Popen(
            command, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            (state / "state.sqlite").exists() and delivered_rows(state) and taken_sources(state)
        ):
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        first = delivered_rows(state)
        assert 0 < len(first) < 5, "the kill should land between two batches"
        # A kill between an acknowledgement and its source's mark leaves that file to be taken
        # again: it is then found delivered already, never sent twice (checked below).
        taken = taken_sources(state)
        posts_before = server.posts()
        result = send(export, server)
        assert result.exit_code == ExitStatus.INPUT_ERRORS, result.output
        assert f"Already taken in an earlier run, unchanged: {taken} file(s)." in result.output
        assert server.instance_count() == 5
        assert len(delivered_rows(state)) == 5
        assert server.posts() - posts_before <= 3  # only what was left, in batches of 2


def test_after_delivery_delete_keeps_what_the_server_did_not_acknowledge(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BSTI_SUBMIT_RETRIES", "0")
    monkeypatch.setenv("BSTI_SUBMIT_AFTER_DELIVERY", "delete")
    with dicomweb_server(tmp_path / "server", faults=["ok", "503", "503"]) as server:
        result = send(export, server)
        assert result.exit_code == ExitStatus.PARTIAL_DELIVERY, result.output
        stored = server.instance_count()
    remaining = [path for path in export.rglob("*") if path.is_file()]
    dicom_left = [p for p in remaining if p.name not in ("notes.txt", "DICOMDIR", "BROKEN")]
    assert 0 < stored < 5
    assert len(dicom_left) == 5 - stored  # exactly the unacknowledged ones are still there


def test_sigterm_interrupts_with_its_own_exit_code(export: Path, tmp_path: Path) -> None:
    """systemd stops a job with SIGTERM: the run ends at once, says so, and exits 9."""
    with dicomweb_server(tmp_path / "server", faults=["stall"], stall_seconds=60) as server:
        env = {**os.environ, "BSTI_SUBMIT_IDLE_TIMEOUT": "120"}
        process = subprocess.Popen(
            cli_command(*stow_args(export, server)),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(6)  # long enough to be waiting on the stalled first POST
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == ExitStatus.INTERRUPTED
        assert "interrupted" in stderr
        # it does not sit out the stalled request (a minute): systemd would kill it
        assert time.monotonic() - signalled < 30


def test_an_interrupted_run_posts_nothing_more_and_records_what_came(
    tmp_path: Path, isolated_folders: Path
) -> None:
    """Interrupted while both connections wait for answers: the batches queued behind them are
    not posted, the answers that come within the grace are recorded, so the state matches
    what the server holds, and the rerun sends the rest, each instance once."""
    from bsti_submit.testing import FakePatient, make_ct_slice

    from .helpers import save

    for index in range(16):
        save(make_ct_slice(FakePatient(), index), tmp_path / "in" / f"slice{index:02d}")
    state = isolated_folders / "xdg_state_home" / "bsti-submit"
    faults = ["ok", "stall", "stall"]  # one on each connection, answered on their retry
    with dicomweb_server(tmp_path / "server", faults=faults, stall_seconds=2) as server:
        process = subprocess.Popen(
            cli_command(*stow_args(tmp_path / "in", server)),
            env={**os.environ, "BSTI_SUBMIT_WORKERS": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not delivered_rows(state):
            time.sleep(0.05)  # the first instance is acknowledged
        time.sleep(0.5)  # the next batches are on the wire, the rest queued behind them
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == ExitStatus.INTERRUPTED, stderr
        held = server.instance_count()
        assert 1 < held < 16  # the stalled batches were answered; the queued ones not sent
        assert len(delivered_rows(state)) == held
        assert not list((state / "spool").rglob("*.dcm"))
        assert send(tmp_path / "in", server).exit_code == ExitStatus.SUCCESS
        assert server.instance_count() == 16


def test_an_answer_that_is_no_store_response_counts_as_not_delivered(
    tmp_path: Path, isolated_folders: Path
) -> None:
    """A proxy answers 200 with JSON of its own: the run does not crash; that batch is not
    delivered (exit 6, said per instance) and goes again next run."""
    from bsti_submit.testing import FakePatient, make_ct_slice

    from .helpers import save

    for index in range(4):
        save(make_ct_slice(FakePatient(), index), tmp_path / "in" / f"slice{index:02d}")
    with dicomweb_server(tmp_path / "server", faults=["garbage"]) as server:
        first = send(tmp_path / "in", server)
        assert first.exit_code == ExitStatus.PARTIAL_DELIVERY, first.output
        assert "not acknowledged (HTTP 200)" in first.output
        assert "Traceback" not in first.output
        assert send(tmp_path / "in", server).exit_code == ExitStatus.SUCCESS
        assert server.instance_count() == 4


def test_a_stalled_server_makes_the_workers_wait_and_the_spool_stays_bounded(
    tmp_path: Path, isolated_folders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the server says nothing, the line waits for its answer: the workers stop a few
    files ahead, and neither the staged copies nor the spool grow with the backfill."""
    from bsti_submit.config import Settings
    from bsti_submit.run import submit
    from bsti_submit.testing import FakePatient, make_ct_slice

    from .helpers import save

    for index in range(16):
        save(make_ct_slice(FakePatient(), index), tmp_path / "in" / f"slice{index:02d}")
    monkeypatch.setenv("BSTI_SUBMIT_WORKERS", "2")
    monkeypatch.setenv("BSTI_SUBMIT_SPOOL_MEGABYTES", "1")
    state = isolated_folders / "xdg_state_home" / "bsti-submit"
    staged_most, spooled_most, running = 0, 0, True

    def sample() -> None:
        nonlocal staged_most, spooled_most
        while running:
            staged = list((state / "staging").rglob("*.dcm"))
            spooled = [path for path in (state / "spool").rglob("*.dcm")]
            staged_most = max(staged_most, len(staged))
            spooled_most = max(spooled_most, len(spooled))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    with dicomweb_server(
        tmp_path / "server", faults=["ok", "stall", "stall"], stall_seconds=2
    ) as server:
        sampler.start()
        settings = Settings.load(site="RX1", ca_bundle=server.ca_file)
        summary = submit(tmp_path / "in", server.url, settings)
        running = False
        sampler.join(timeout=5)
    assert summary.delivery is not None and summary.delivery.delivered == 16
    assert staged_most <= 2 * 4 + 2, staged_most  # the workers' window, and the line's file
    assert spooled_most <= 3, spooled_most  # a megabyte of half-megabyte slices, and one more


def test_cleaning_goes_on_while_a_batch_waits_for_its_answer(
    tmp_path: Path, isolated_folders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server sits on the run's next batches for seconds (one on each connection):
    meanwhile every other file is de-identified and written to the spool, so all of them are in
    the audit log before those batches' answers are."""
    from bsti_submit.audit import read_records
    from bsti_submit.config import Settings
    from bsti_submit.run import submit
    from bsti_submit.testing import FakePatient, make_ct_slice

    from .helpers import save

    for index in range(16):
        save(make_ct_slice(FakePatient(), index), tmp_path / "in" / f"slice{index:02d}")
    monkeypatch.setenv("BSTI_SUBMIT_WORKERS", "1")
    audit = tmp_path / "audit.jsonl"
    faults = ["ok", "stall", "stall"]
    with dicomweb_server(tmp_path / "server", faults=faults, stall_seconds=3) as server:
        settings = Settings.load(site="RX1", ca_bundle=server.ca_file)
        summary = submit(tmp_path / "in", server.url, settings, audit)
    assert summary.delivery is not None and summary.delivery.delivered == 16
    records = read_records(audit)
    written = [n for n, record in enumerate(records) if record.get("status") == "written"]
    answered = [n for n, record in enumerate(records) if record["type"] == "delivery"]
    assert len(written) == len(answered) == 16
    assert written[-1] < answered[1]  # the first instance goes alone, then the stalled batches


def test_credentials_refused_mid_run_stop_it_and_the_rerun_sends_the_rest(
    tmp_path: Path, isolated_folders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token is revoked after the first batch (both connections are refused): the run
    stops with the endpoint's exit code and one line, posts nothing more, keeps what was
    acknowledged and leaves no spooled copy; the next run sends the rest."""
    from bsti_submit.testing import FakePatient, make_ct_slice

    from .helpers import save

    for index in range(8):
        save(make_ct_slice(FakePatient(), index), tmp_path / "in" / f"slice{index:02d}")
    state = isolated_folders / "xdg_state_home" / "bsti-submit"
    with dicomweb_server(tmp_path / "server", faults=["ok", "401", "401"]) as server:
        refused = run(*stow_args(tmp_path / "in", server))
        assert refused.exit_code == ExitStatus.ENDPOINT, refused.output
        assert "authentication refused (401)" in refused.output
        assert "Traceback" not in refused.output
        assert delivered_rows(state) == [(delivered_rows(state)[0][0], "acknowledged")]
        assert server.instance_count() == 1
        assert not list((state / "spool").rglob("*.dcm"))
        assert send(tmp_path / "in", server).exit_code == ExitStatus.SUCCESS
        assert server.instance_count() == 8


def test_a_run_killed_while_a_batch_waits_for_its_answer_resumes(
    tmp_path: Path, isolated_folders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed with a POST unanswered and the workers still staging: the rerun sends what was
    not acknowledged, the server holds every instance once, and the killed run's audit log
    verifies as far as it went."""
    from bsti_submit.audit import audit_key, verify_chain
    from bsti_submit.config import Settings
    from bsti_submit.deid.pseudonym import load_key
    from bsti_submit.testing import FakePatient, make_ct_slice

    from .helpers import save

    for index in range(16):
        save(make_ct_slice(FakePatient(), index), tmp_path / "in" / f"slice{index:02d}")
    monkeypatch.setenv("BSTI_SUBMIT_WORKERS", "2")
    monkeypatch.setenv("BSTI_SUBMIT_SPOOL_MEGABYTES", "1")  # the workers wait for the answer
    state = isolated_folders / "xdg_state_home" / "bsti-submit"
    faults = ["ok", "stall", "stall"]  # one on each connection
    with dicomweb_server(tmp_path / "server", faults=faults, stall_seconds=30) as server:
        command = cli_command(*stow_args(tmp_path / "in", server))
        process = subprocess.Popen(
            command, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not delivered_rows(state):
            time.sleep(0.05)  # the first instance is acknowledged
        time.sleep(1.0)  # the next batches are posted and stall
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert children, "the run should have its workers"
        process.send_signal(signal.SIGKILL)
        process.wait()
        time.sleep(1.0)
        alive = [pid for pid in children if _running(pid)]
        assert not alive, "workers outlived their killed run"
        assert 0 < len(delivered_rows(state)) < 16
        (killed_log,) = state.rglob("audit-*.jsonl")
        key = audit_key(load_key(Settings.load().key_file))
        verdict = verify_chain(killed_log, key)
        assert verdict.broken_at in (None, verdict.records + 1) and not verdict.complete
        result = run(*stow_args(tmp_path / "in", server))
        assert result.exit_code == ExitStatus.SUCCESS, result.output
        assert server.instance_count() == 16
        assert sorted(status for _, status in delivered_rows(state)) == ["acknowledged"] * 16


def _running(pid: str) -> bool:
    """Whether a process still runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_the_retry_backoff_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fault tests wait 50 ms before a retry, not seconds; a trust can wait longer."""
    from bsti_submit.config import Settings
    from bsti_submit.errors import ConfigError
    from bsti_submit.run import endpoint_for

    url = "https://collection.example/dicom-web"
    assert endpoint_for(Settings.load(), url).backoff == 0.05
    monkeypatch.setenv("BSTI_SUBMIT_RETRY_BACKOFF", "2.5")
    assert endpoint_for(Settings.load(), url).backoff == 2.5
    monkeypatch.setenv("BSTI_SUBMIT_RETRY_BACKOFF", "-1")
    with pytest.raises(ConfigError, match="retry_backoff"):
        Settings.load()
    monkeypatch.setenv("BSTI_SUBMIT_RETRY_BACKOFF", "soon")
    with pytest.raises(ConfigError, match="must be a number"):
        Settings.load()
