"""Unattended runs from cron or a systemd timer: settings, locking, logs, exit codes, a folder
that PACS keeps adding to, and the health check."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from bsti_submit.audit import read_records
from bsti_submit.config import Settings
from bsti_submit.errors import ExitStatus
from bsti_submit.locks import RunLock
from bsti_submit.testing import FakePatient, make_instance

from .helpers import cli_command, planted_identifiers, run, save, submit_to_folder

SITE = "RX1"


def state_dir(home: Path) -> Path:
    return home / "xdg_state_home" / "bsti-submit"


def test_each_level_overrides_the_one_below(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_folders: Path
) -> None:
    site_wide = isolated_folders / "xdg_config_dirs" / "bsti-submit" / "config.toml"
    site_wide.parent.mkdir(parents=True)
    site_wide.write_text('profile = "ps315-basic"\nsite = "MACHINE"\nretries = 2\n')
    shown = run("config", "show").output
    assert f"site = MACHINE    (config file {site_wide})" in shown
    user = isolated_folders / "xdg_config_home" / "bsti-submit" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text('site = "USER1"\nretries = 3\n')
    shown = run("config", "show").output
    assert f"site = USER1    (config file {user})" in shown
    assert "profile = bsti-covid19    (default)" in shown  # the machine file is not read now
    named = tmp_path / "named.toml"
    named.write_text('site = "NAMED"\nbatch_instances = 7\n')
    monkeypatch.setenv("BSTI_SUBMIT_CONFIG", str(named))
    monkeypatch.setenv("BSTI_SUBMIT_BATCH_INSTANCES", "9")
    shown = run("config", "show").output
    assert f"site = NAMED    (config file {named})" in shown
    assert "batch_instances = 9    (environment BSTI_SUBMIT_BATCH_INSTANCES)" in shown
    flagged = Settings.load(site="FLAG", batch_instances=11)
    assert (flagged.site, flagged.batch_instances) == ("FLAG", 11)
    assert flagged.sources["site"] == "flag" and flagged.sources["retries"] == "default"


def test_config_show_never_shows_a_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """It says where each secret comes from, never what it is."""
    monkeypatch.setenv("BSTI_SUBMIT_TOKEN", "very-secret-token")
    shown = run("config", "show").output
    assert "very-secret-token" not in shown
    assert "token: set (value hidden), from environment BSTI_SUBMIT_TOKEN" in shown
    assert "password: not set" in shown
    secret_file = tmp_path / "password"
    secret_file.write_text("very-secret-password\n")
    secret_file.chmod(0o600)
    monkeypatch.delenv("BSTI_SUBMIT_TOKEN")
    monkeypatch.setenv("BSTI_SUBMIT_PASSWORD_FILE", str(secret_file))
    shown = run("config", "show").output
    assert "very-secret-password" not in shown
    assert f"password: set (value hidden), from file {secret_file}" in shown
    assert "token: not set" in shown


def test_a_second_run_is_refused_and_a_stale_lock_taken_over(
    export: Path, tmp_path: Path, isolated_folders: Path
) -> None:
    with RunLock(state_dir(isolated_folders)):
        second = submit_to_folder(export, tmp_path / "out")
        assert second.exit_code == ExitStatus.ALREADY_RUNNING
        assert f"another bsti-submit run (pid {os.getpid()})" in second.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.dcm"))
    (state_dir(isolated_folders) / "run.lock").write_text("999999\n")  # died without unlocking
    third = submit_to_folder(export, tmp_path / "out")
    assert third.exit_code == ExitStatus.INPUT_ERRORS
    assert "Took over the lock left by an earlier run (pid 999999)" in third.output


def test_no_prompt_and_no_escape_code_without_a_terminal(export: Path, tmp_path: Path) -> None:
    command = cli_command("submit", str(export), "--to", str(tmp_path / "out"), "--site", SITE)
    done = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ,
    )
    assert done.returncode == ExitStatus.INPUT_ERRORS
    assert "\x1b[" not in done.stdout + done.stderr
    assert "Wrote 5 instance(s)" in done.stdout


def test_the_json_summary_agrees_with_the_audit_log(export: Path, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    result = submit_to_folder(export, tmp_path / "out", "--json", "--audit-log", str(audit))
    assert result.exit_code == ExitStatus.INPUT_ERRORS
    summary = json.loads(result.output)
    footer = read_records(audit)[-1]
    assert summary["exit_status"] == 4 and summary["exit_meaning"] == "input_errors"
    assert summary["audit_log"] == str(audit)
    assert {key: footer[key] for key in summary["counts"]} == summary["counts"]


def test_quiet_prints_nothing_on_success(tmp_path: Path, patient: FakePatient) -> None:
    source = save(make_instance(patient), tmp_path / "in" / "one").parent
    result = submit_to_folder(source, tmp_path / "out", "--quiet")
    assert result.exit_code == ExitStatus.SUCCESS and result.output == ""


def test_a_study_still_being_written_waits_for_the_next_run(
    tmp_path: Path, patient: FakePatient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BSTI_SUBMIT_QUIET_SECONDS", "600")
    source = tmp_path / "export"
    old = save(make_instance(patient, study=1), source / "done" / "one")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    save(make_instance(patient, study=2), source / "arriving" / "one")
    first = submit_to_folder(source, tmp_path / "out")
    assert first.exit_code == ExitStatus.SUCCESS
    assert "Wrote 1 instance(s)" in first.output
    assert "Left for the next run (their study changed recently): 1 file(s)." in first.output
    for path in source.rglob("one"):
        os.utime(path, (hour_ago, hour_ago))
    second = submit_to_folder(source, tmp_path / "out")
    assert "Wrote 1 instance(s)" in second.output
    assert "Already taken in an earlier run, unchanged: 1 file(s)." in second.output


def test_after_delivery_delete_deletes_only_what_is_safe(
    export: Path, tmp_path: Path, patient: FakePatient
) -> None:
    risky = make_instance(patient, study=5)
    risky.BurnedInAnnotation = "YES"
    save(risky, export / "risky")
    before = {path.name for path in export.rglob("*") if path.is_file()}
    result = submit_to_folder(export, tmp_path / "out", "--after-delivery", "delete")
    assert result.exit_code == ExitStatus.QUARANTINED
    left = {path.name for path in export.rglob("*") if path.is_file()}
    assert left == {"BROKEN", "risky", "notes.txt", "DICOMDIR"}
    assert left < before


def test_after_delivery_move(export: Path, tmp_path: Path) -> None:
    moved = tmp_path / "delivered"
    result = submit_to_folder(
        export, tmp_path / "out", "--after-delivery", "move", "--move-to", str(moved)
    )
    assert result.exit_code == ExitStatus.INPUT_ERRORS
    assert sorted(p.relative_to(moved).as_posix() for p in moved.rglob("*") if p.is_file()) == [
        "MULLER_ZOE_RX1234567/S0/I0",
        "MULLER_ZOE_RX1234567/S0/I1",
        "MULLER_ZOE_RX1234567/S1/I0",
        "MULLER_ZOE_RX1234567/S1/I1",
        "ONEILL/IM0001",
    ]


def test_the_day_log_holds_no_identifier(
    export: Path, tmp_path: Path, isolated_folders: Path, patient: FakePatient
) -> None:
    log_dir = isolated_folders / "xdg_state_home" / "bsti-submit" / "log"
    log_dir.mkdir(parents=True)
    stale = log_dir / "bsti-submit-2020-01-01.log"
    stale.write_text("old\n")
    os.utime(stale, (0, 0))
    submit_to_folder(export, tmp_path / "out")
    (today,) = log_dir.glob("bsti-submit-*.log")
    text = today.read_text()
    assert "run started" in text and "exit status 4" in text
    for value in [*planted_identifiers(patient), str(export), "MULLER"]:
        assert value not in text
    assert not stale.exists()  # pruned after the retention period


def test_doctor_reports_each_broken_thing(
    tmp_path: Path, isolated_folders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("init", "--site", SITE).exit_code == ExitStatus.SUCCESS
    healthy = run("doctor")
    assert healthy.exit_code == ExitStatus.SUCCESS, healthy.output
    (key,) = isolated_folders.rglob("pseudonym.key")
    key.chmod(0o644)
    state = state_dir(isolated_folders) / "state.sqlite"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("BSTI_SUBMIT_PROFILE", "no-such-profile")
    monkeypatch.setenv("BSTI_SUBMIT_DESTINATION", "https://127.0.0.1:9/dicom-web")
    broken = run("doctor")
    assert broken.exit_code == ExitStatus.CONFIG
    failed = {
        line.split(":")[0].removeprefix("FAIL ")
        for line in broken.output.splitlines()
        if line.startswith("FAIL")
    }
    assert failed == {"key", "profile", "site", "state database", "endpoint"}
    assert all("-> fix:" in line for line in broken.output.splitlines() if line.startswith("FAIL"))
    monkeypatch.setenv("BSTI_SUBMIT_CONFIG", str(tmp_path / "bad.toml"))
    (tmp_path / "bad.toml").write_text("site = \n")
    assert "FAIL config" in run("doctor").output


def test_a_run_with_nothing_new_writes_no_audit_log(
    tmp_path: Path, isolated_folders: Path, patient: FakePatient
) -> None:
    """cron every five minutes: 288 empty audit logs a day, never pruned. An empty run is in
    the day log only. (A file that failed is tried again, so it makes a run not empty.)"""
    for index in range(2):
        save(make_instance(patient, instance=index), tmp_path / "in" / f"image{index}")
    args = ["submit", str(tmp_path / "in"), "--to", str(tmp_path / "out"), "--site", "RX1"]
    run(*args)
    logs = sorted(isolated_folders.rglob("audit-*.jsonl"))
    again = run(*args)
    assert "Nothing new since the last run: no audit log written" in again.output, again.output
    assert sorted(isolated_folders.rglob("audit-*.jsonl")) == logs and len(logs) == 1
    (day_log,) = isolated_folders.rglob("bsti-submit-*.log")
    assert day_log.read_text().count("ended with exit status") == 2
