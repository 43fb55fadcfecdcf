"""The audit log is tamper-evident: `audit verify` names the first broken record, tells a log
cut short from a complete one, and an edit re-sealed without the trust's key is caught."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from bsti_submit.audit import GENESIS
from bsti_submit.errors import ExitStatus

from .helpers import run


def make_log(export: Path, tmp_path: Path) -> Path:
    log = tmp_path / "audit.jsonl"
    run(
        "submit",
        str(export),
        "--to",
        str(tmp_path / "out"),
        "--site",
        "RX1",
        "--audit-log",
        str(log),
    )
    return log


def test_an_intact_log_verifies(export: Path, tmp_path: Path) -> None:
    log = make_log(export, tmp_path)
    result = run("audit", "verify", str(log))
    assert result.exit_code == ExitStatus.SUCCESS
    assert f"OK: {len(log.read_text().splitlines())} record(s), sealed and complete" in (
        result.output
    )


def test_an_edited_or_removed_record_is_named(export: Path, tmp_path: Path) -> None:
    log = make_log(export, tmp_path)
    lines = log.read_text().splitlines()
    record = json.loads(lines[10])
    record["new"] = "something else"
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join([*lines[:10], json.dumps(record), *lines[11:]]) + "\n")
    result = run("audit", "verify", str(edited))
    assert (
        result.exit_code == ExitStatus.ERROR and "BROKEN at line 11" in result.output
    )  # the edited one
    removed = tmp_path / "removed.jsonl"
    removed.write_text("\n".join([*lines[:5], *lines[6:]]) + "\n")
    assert "BROKEN at line 6" in run("audit", "verify", str(removed)).output


def test_a_log_cut_short_by_a_crash_verifies_up_to_its_last_complete_record(
    export: Path, tmp_path: Path
) -> None:
    log = make_log(export, tmp_path)
    text = log.read_text()
    cut = tmp_path / "cut.jsonl"
    cut.write_text(text[: len(text) - 40])  # the last record half written
    lines = len(text.splitlines())
    result = run("audit", "verify", str(cut))
    assert result.exit_code == ExitStatus.ERROR
    assert f"BROKEN at line {lines}: not a complete JSON record; the {lines - 1} record(s)" in (
        result.output
    )


def test_a_log_without_its_footer_is_incomplete(export: Path, tmp_path: Path) -> None:
    """Whole lines removed from the end leave a chain that holds: only the footer tells."""
    log = make_log(export, tmp_path)
    lines = log.read_text().splitlines()
    short = tmp_path / "short.jsonl"
    short.write_text("\n".join(lines[:-3]) + "\n")
    result = run("audit", "verify", str(short))
    assert result.exit_code == ExitStatus.INCOMPLETE, result.output
    assert f"INCOMPLETE: {len(lines) - 3} record(s) verify, but the log has no footer" in (
        result.output
    )


def test_an_edit_resealed_without_the_key_is_caught(export: Path, tmp_path: Path) -> None:
    """Someone who edits a record and recomputes every seal along the chain, with a key of
    their own (or plain SHA-256, as the log was sealed before), still breaks it."""
    log = make_log(export, tmp_path)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    records[10]["old"] = "nothing to see"
    forged_key, previous, lines = b"not the trust's key", GENESIS, []
    for record in records:
        body = json.dumps({k: v for k, v in record.items() if k != "mac"}, ensure_ascii=False)
        previous = hmac.new(forged_key, (previous + body).encode(), hashlib.sha256).hexdigest()
        lines.append(f'{body[:-1]}, "mac": "{previous}"}}')
    forged = tmp_path / "forged.jsonl"
    forged.write_text("\n".join(lines) + "\n")
    result = run("audit", "verify", str(forged))
    assert result.exit_code == ExitStatus.ERROR and "BROKEN at line 1" in result.output


def test_a_binary_file_is_broken_not_a_traceback(tmp_path: Path) -> None:
    assert run("init", "--site", "RX1").exit_code == ExitStatus.SUCCESS
    binary = tmp_path / "image.dcm"
    binary.write_bytes(bytes(range(256)) * 4)
    result = run("audit", "verify", str(binary))
    assert (
        result.exit_code == ExitStatus.ERROR
        and "BROKEN at line 1: not a complete JSON record" in (result.output)
    )


def test_a_log_sealed_before_a_new_key_still_verifies(export: Path, tmp_path: Path) -> None:
    log = make_log(export, tmp_path)
    assert run("init", "--site", "RX1", "--force", "--new-key").exit_code == ExitStatus.SUCCESS
    result = run("audit", "verify", str(log))
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    assert "sealed under the retired key pseudonym.key.retired-" in result.output


def test_an_earlier_builds_log_is_called_unsealed(export: Path, tmp_path: Path) -> None:
    make_log(export, tmp_path)
    old = tmp_path / "old.jsonl"
    old.write_text('{"seq": 0, "prev": "' + "0" * 64 + '", "type": "run"}\n')
    result = run("audit", "verify", str(old))
    assert result.exit_code == ExitStatus.ERROR and result.output.startswith(
        "UNSEALED: an earlier build's log"
    )
