"""The IOD validator `dciodvfy` (Debian's dicom3tools) on a source file and its cleaned copy:
de-identification must add no error the source did not have.

Run as a script (`.venv/bin/python -m tests.iod`) it runs `submit` on every foreign set under
both profiles and prints, per set and profile, the errors before and after and each new one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

DCIODVFY = shutil.which("dciodvfy")
_UNPARSED = "Tag read failed"
_VALUE = re.compile(r" = <[^>]*>|\[[0-9]+\]|Value=<[^>]*>| <[0-9.]+>")  # values change


def _report(path: Path) -> list[str]:
    """Every line the validator prints for one file."""
    if DCIODVFY is None:
        raise RuntimeError("dciodvfy is not installed (Debian package dicom3tools)")
    run = subprocess.run(
        [DCIODVFY, str(path)], capture_output=True, text=True, errors="replace", check=False
    )
    return (run.stdout + run.stderr).splitlines()


def errors(path: Path) -> Counter[str]:
    """The validator's errors for one file, with the values they quote left out."""
    return _errors(_report(path))


def _errors(lines: list[str]) -> Counter[str]:
    return Counter(_VALUE.sub("", line) for line in lines if line.startswith("Error - "))


def new_errors(source: Path, cleaned: Path) -> list[str]:
    """The errors the cleaned copy has that its source had not. A source the validator cannot
    parse (an implicit-VR body under an explicit-VR header) is no baseline: none are new."""
    before = _report(source)
    if any(_UNPARSED in line for line in before):
        return []
    return sorted((errors(cleaned) - _errors(before)).elements())


def delivered(audit_log: Path, out: Path) -> dict[Path, Path]:
    """{source file: its cleaned copy} for every file a folder run wrote."""
    written = {}
    for line in audit_log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("type") == "file" and record["status"] == "written":
            (copy,) = out.rglob(f"{record['sop']}.dcm")
            written[Path(record["file"])] = copy
    return written


def main() -> None:
    from bsti_submit.run import submit

    from .foreign import PROFILES, copy_set, foreign_files, settings_for

    with tempfile.TemporaryDirectory(prefix="bsti-iod-") as scratch:
        base = Path(scratch)
        for variable in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            os.environ[variable] = str(base / variable.lower())
        for set_name, files in foreign_files().items():
            folder = base / set_name / "in"
            copy_set({set_name: files}, folder)
            for profile in PROFILES:
                out = base / set_name / f"out-{profile}"
                summary = submit(folder, out, settings_for(out, profile))
                before = after = 0
                assert summary.audit_log is not None
                added: Counter[str] = Counter()
                for source, copy in delivered(summary.audit_log, out).items():
                    old, new = errors(source), errors(copy)
                    before, after = before + old.total(), after + new.total()
                    added.update(new - old)
                print(f"{set_name} / {profile}: {before} errors before, {after} after")
                for message, count in added.most_common():
                    print(f"  +{count} {message}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
