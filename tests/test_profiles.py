"""PS3.15 options as switches, site profiles layered on built-in ones, and `profile check`."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from bsti_submit.config import Settings
from bsti_submit.deid.engine import Deidentifier
from bsti_submit.deid.profile import Action, load_profile
from bsti_submit.deid.pseudonym import Pseudonymizer
from bsti_submit.deid.standard import OPTIONS, ProfileSpec, load_table, render_profile
from bsti_submit.errors import ExitStatus, ProfileError
from bsti_submit.run import submit
from bsti_submit.testing import FakePatient, make_instance

from .helpers import removed_beyond_table, run, save, site_profile, table_tag

SUPPORTED = [name for name, option in OPTIONS.items() if option.supported]
ENGINE_ACTION = {"K": Action.KEEP, "C": Action.CLEAN}


def profile_with(tmp_path: Path, *options: str) -> Path:
    spec = ProfileSpec(name="with-options", version="test", introduction=(), options=options)
    path = tmp_path / "with-options.deid"
    path.write_text(render_profile(spec), encoding="utf-8")
    return path


@pytest.mark.parametrize("option", SUPPORTED)
def test_each_option_changes_exactly_its_rows(tmp_path: Path, option: str) -> None:
    basic = load_profile("ps315-basic")
    switched = load_profile(str(profile_with(tmp_path, option)))
    column = OPTIONS[option].column
    for row in load_table():
        tag = table_tag(row.tag)
        if tag is None or removed_beyond_table(tag):
            continue
        before, after = basic.rule_for(tag), switched.rule_for(tag)
        assert before is not None and after is not None
        if column not in row.options:
            assert after.action == before.action, row.tag
        elif option == "retain-long-modified-dates":
            assert after.action == Action.SHIFT_DATE, row.tag
        else:
            assert after.action == ENGINE_ACTION[row.options[column]], row.tag
    assert switched.method_codes == ("113100", OPTIONS[option].code)


@pytest.mark.parametrize("option", SUPPORTED)
def test_each_option_is_named_in_the_method_code_sequence(
    option: str, tmp_path: Path, patient: FakePatient
) -> None:
    profile = load_profile(str(profile_with(tmp_path, option)))
    dataset = make_instance(patient)
    Deidentifier(profile, Pseudonymizer(b"k" * 32)).apply(dataset)
    codes = [item.CodeValue for item in dataset.DeidentificationMethodCodeSequence]
    assert codes == ["113100", OPTIONS[option].code]


def test_where_two_options_disagree_the_more_protective_wins(tmp_path: Path) -> None:
    """Retain Device Identity keeps Date of Last Calibration (K); Modified Dates shifts it (C)."""
    both = load_profile(
        str(profile_with(tmp_path, "retain-device-identity", "retain-long-modified-dates"))
    )
    disagreeing = [
        row.tag
        for row in load_table()
        if row.options.get("rtn_dev_id") == "K" and row.options.get("rtn_long_modif_dates") == "C"
    ]
    assert "(0018,1200)" in disagreeing
    for tag in disagreeing:
        rule = both.rule_for(table_tag(tag) or 0)
        assert rule is not None and rule.action is Action.SHIFT_DATE, tag


@pytest.mark.parametrize("option", ["clean-structured-content", "clean-graphics"])
def test_an_option_the_tool_cannot_do_is_never_claimed(tmp_path: Path, option: str) -> None:
    with pytest.raises(ProfileError, match="cannot be claimed"):
        load_profile(str(profile_with(tmp_path, option)))


def test_full_and_modified_dates_exclude_each_other(tmp_path: Path) -> None:
    path = profile_with(tmp_path, "retain-long-modified-dates")
    path.write_text(
        path.read_text().replace(
            "#@ options: retain-long-modified-dates",
            "#@ options: retain-long-modified-dates, retain-long-full-dates",
        )
    )
    with pytest.raises(ProfileError, match="exclude each other"):
        load_profile(str(path))


def rx1_site_profile(tmp_path: Path, *lines: str) -> Path:
    return site_profile(tmp_path, *lines, base="bsti-covid19", name="rx1-site", version=3)


def test_a_site_keeps_a_safe_private_tag_of_its_scanners(
    tmp_path: Path, patient: FakePatient
) -> None:
    dataset = make_instance(patient)
    block = dataset.private_block(0x0043, "GEMS_PARM_01", create=True)
    block.add_new(0x27, "SH", "0.984:1")
    block.add_new(0x28, "LO", patient.name)  # same creator, not on the safe list
    recipe = rx1_site_profile(
        tmp_path, 'KEEP (0043,"GEMS_PARM_01",27)  # justification: pitch, safe per E.3.10-1'
    )
    source = save(dataset, tmp_path / "in" / "one").parent
    summary = submit(source, tmp_path / "out", Settings(site="RX1", profile=str(recipe)))
    assert summary.written == 1
    (out,) = [pydicom.dcmread(path) for path in (tmp_path / "out").rglob("*.dcm")]
    kept = out.private_block(0x0043, "GEMS_PARM_01")
    assert kept[0x27].value == "0.984:1"
    assert 0x00431028 not in out and all(
        element.tag.group in (0x0043,) or not element.tag.is_private for element in out
    )
    assert out.DeidentificationMethod.endswith("rx1-site 3")
    assert out.PatientID.startswith("RX1-")  # the built-in lines still apply beneath


def test_a_site_line_cannot_make_a_claimed_option_false(tmp_path: Path) -> None:
    recipe = rx1_site_profile(tmp_path, "KEEP StudyDescription")
    with pytest.raises(ProfileError, match=r"clean-descriptors.*\(0008,1030\)"):
        load_profile(str(recipe))


def test_profile_check_flags_a_profile_that_keeps_patient_name(tmp_path: Path) -> None:
    recipe = rx1_site_profile(tmp_path, "KEEP PatientName")
    result = run("profile", "check", str(recipe))
    assert result.exit_code == ExitStatus.ERROR
    flagged = [line for line in result.output.splitlines() if "NOT JUSTIFIED" in line]
    assert len(flagged) == 1 and "(0010,0010)" in flagged[0] and "PatientName" in flagged[0]


def test_profile_check_accepts_justified_lines(tmp_path: Path) -> None:
    assert run("profile", "check", "ps315-basic").exit_code == ExitStatus.SUCCESS
    covid = run("profile", "check", "bsti-covid19")
    assert covid.exit_code == ExitStatus.SUCCESS, covid.output
    assert "justified" in covid.output and "NOT JUSTIFIED" not in covid.output
    recipe = rx1_site_profile(tmp_path, "KEEP PatientName  # justification: test data only")
    assert run("profile", "check", str(recipe)).exit_code == ExitStatus.SUCCESS


def test_profile_show_is_compact_and_full_has_every_rule() -> None:
    """The compact form is what an IG reviewer reads: each relaxation with its justification,
    without site-packages paths; --full has every rule with its file and line."""
    result = run("profile", "show", "bsti-covid19")
    assert result.exit_code == ExitStatus.SUCCESS
    assert "bsti-covid19 2026d.4" in result.output
    assert "retain-patient-characteristics" in result.output and "113108" in result.output
    assert "burned-in text: mask" in result.output
    assert "justification: the patient's keyed pseudonym" in result.output
    assert "files: bsti-covid19.deid" in result.output and "/" not in result.output.split()[5]
    assert len(result.output.splitlines()) < 40
    full = run("profile", "show", "bsti-covid19", "--full")
    lines = full.output.splitlines()
    assert any("(0010,0010)" in line and "PSEUDONYM" in line for line in lines)
    assert any(line.startswith("ADD") and "(0012,0030)" in line for line in lines)
    assert len(lines) > 600
