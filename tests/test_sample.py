"""The bundled sample study: what the README's first command runs."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from bsti_submit.errors import ExitStatus
from bsti_submit.testing import write_sample_study

from .helpers import run

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample" / "study"


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_bundled_sample_is_what_the_script_makes(tmp_path: Path) -> None:
    write_sample_study(tmp_path / "study")
    assert files_under(tmp_path / "study") == files_under(SAMPLE)


def readme_demo_arguments() -> list[str]:
    """The arguments of the README's demo command, after `.venv/bin/bsti-submit`."""
    readme = (REPO / "README.md").read_text()
    (line,) = [line for line in readme.splitlines() if "bsti-submit --config sample/" in line]
    return shlex.split(line.split(".venv/bin/bsti-submit ", 1)[1])


def test_readme_demo_writes_the_sample_and_leaves_nothing_outside_the_clone(
    tmp_path: Path, isolated_folders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clone = tmp_path / "clone"
    shutil.copytree(REPO / "sample", clone / "sample")
    monkeypatch.chdir(clone)
    result = run(*readme_demo_arguments())
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    assert "Wrote 4 instance(s) of 1 study(ies), 2 series" in result.output
    assert "DICOMDIR: an index that holds patient names, never copied" in result.output
    assert "README.TXT: not a DICOM file" in result.output
    assert len(list((clone / "out" / "sample").rglob("*.dcm"))) == 4
    assert (clone / "demo" / "pseudonym.key").exists()
    assert not [path for path in isolated_folders.rglob("*") if path.is_file()], "left in home"
    assert run("init", "--site", "RX1").exit_code == ExitStatus.SUCCESS  # starts clean
