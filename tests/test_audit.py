"""The audit log is tamper-evident: `audit verify` names the first broken record."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from bsti_submit.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


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
    assert result.exit_code == 0
    assert f"OK: {len(log.read_text().splitlines())} record(s)" in result.output


def test_an_edited_or_removed_record_is_named(export: Path, tmp_path: Path) -> None:
    log = make_log(export, tmp_path)
    lines = log.read_text().splitlines()
    record = json.loads(lines[10])
    record["new"] = "something else"
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join([*lines[:10], json.dumps(record), *lines[11:]]) + "\n")
    result = run("audit", "verify", str(edited))
    assert result.exit_code == 1 and "BROKEN at line 12" in result.output
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
    assert result.exit_code == 1
    assert f"BROKEN at line {lines}: not a complete JSON record; the {lines - 1} record(s)" in (
        result.output
    )
