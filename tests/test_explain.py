"""`bsti-submit profile explain`: a profile in plain English for the trust's IG, derived from
its rules, and the copy of the default profile's explanation in docs/information-governance.md."""

from __future__ import annotations

import re
from pathlib import Path

from bsti_submit.errors import ExitStatus

from .helpers import run, site_profile

DOC = Path(__file__).parents[1] / "docs" / "information-governance.md"
BEGIN, END = "<!-- profile-explain:begin -->\n", "\n<!-- profile-explain:end -->"
REGENERATE = "bsti-submit profile explain bsti-covid19"


def explained(*args: str) -> str:
    result = run("profile", "explain", *args)
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    return result.stdout


def names(text: str) -> set[str]:
    """The words of a text: keywords, whole."""
    return set(re.findall(r"\w+", text))


def section(text: str, heading: str) -> str:
    """The text under a `### heading`, up to the next heading of that level."""
    return text.split(f"### {heading}\n", 1)[1].split("\n### ", 1)[0]


def test_the_ig_document_holds_the_default_profiles_explanation() -> None:
    document = DOC.read_text(encoding="utf-8")
    assert document.count(BEGIN) == 1 and document.count(END) == 1, "markers missing"
    committed = document.split(BEGIN, 1)[1].split(END, 1)[0] + "\n"
    assert committed == explained("bsti-covid19"), (
        f"{DOC.name} is out of date: replace the text between its profile-explain markers "
        f"with the output of `{REGENERATE}`"
    )


def test_the_explanation_follows_the_profiles_rules(tmp_path: Path) -> None:
    default = explained("bsti-covid19")
    assert "StationName" not in names(section(default, "What it keeps"))
    recipe = site_profile(
        tmp_path,
        "KEEP StationName  # justification: our station names are neutral",
        base="bsti-covid19",
        name="rx1-stations",
    )
    text = explained(str(recipe))
    kept = section(text, "What it keeps")
    assert "StationName" in names(kept.split("Kept with changes:")[0]), kept
    assert "StationName" not in names(section(text, "What it removes"))
    relaxed = section(text, "Where it protects less than PS3.15 basic")
    assert "`justification: our station names are neutral` (1): StationName" in relaxed
    assert "rx1-stations 1" in text and "`bsti-covid19.deid`, `rx1-stations.deid`" in text
    assert str(tmp_path) not in text and text != default


def test_output_writes_the_file_instead_of_the_screen(tmp_path: Path) -> None:
    target = tmp_path / "ig" / "bsti-covid19.md"
    target.parent.mkdir()
    result = run("profile", "explain", "bsti-covid19", "--output", str(target))
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    assert result.stdout == ""
    assert target.read_text(encoding="utf-8") == explained("bsti-covid19")


def test_an_unknown_profile_is_one_clear_line() -> None:
    result = run("profile", "explain", "no-such-profile")
    assert result.exit_code == ExitStatus.CONFIG
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bsti-submit: error: "), result.stderr
    assert "no-such-profile" in lines[0] and "Traceback" not in result.output
