"""The bundled sample study: what the README's first command runs."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bsti_submit.cli import main
from bsti_submit.synthetic import write_sample_study

SAMPLE = Path(__file__).resolve().parent.parent / "sample" / "study"


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_bundled_sample_is_what_the_script_makes(tmp_path: Path) -> None:
    write_sample_study(tmp_path / "study")
    assert files_under(tmp_path / "study") == files_under(SAMPLE)


def test_readme_demo_writes_the_sample_and_exits_zero(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["submit", str(SAMPLE), "--to", str(tmp_path / "out"), "--site", "DEMO"]
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 4 instance(s) of 1 study(ies), 2 series" in result.output
    assert "DICOMDIR: an index that holds patient names, never copied" in result.output
    assert "README.TXT: not a DICOM file" in result.output
    assert len(list((tmp_path / "out").rglob("*.dcm"))) == 4
