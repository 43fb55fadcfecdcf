"""`bsti-submit submit` end to end on synthetic PACS exports: what a PACS administrator sees."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pydicom
import pytest
from click.testing import Result

from bsti_submit.audit import audit_key, read_records, verify_chain
from bsti_submit.config import Settings
from bsti_submit.deid.profile import builtin_profiles_dir
from bsti_submit.deid.pseudonym import load_key
from bsti_submit.errors import ExitStatus
from bsti_submit.run import submit
from bsti_submit.testing import FakePatient, make_instance

from .helpers import planted_identifiers, run, save

BASIC = ("--profile", "ps315-basic")


def outputs(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.dcm"))


def source_files(export: Path) -> list[Path]:
    names = ("I0", "I1", "IM0001")
    return sorted(path for path in export.rglob("*") if path.name in names)


@pytest.fixture
def submitted(export: Path, tmp_path: Path) -> tuple[Result, Path, Path]:
    out = tmp_path / "out"
    audit = tmp_path / "audit.jsonl"
    result = run("submit", str(export), "--to", str(out), "--audit-log", str(audit), *BASIC)
    return result, out, audit


def test_writes_every_instance_and_reports_what_it_skipped(
    submitted: tuple[Result, Path, Path],
) -> None:
    result, out, _ = submitted
    assert result.exit_code == ExitStatus.INPUT_ERRORS, (
        result.output
    )  # the truncated file is an input error
    assert len(outputs(out)) == 5
    assert "notes.txt" in result.output and "not a DICOM file" in result.output
    assert "DICOMDIR" in result.output and "never copied" in result.output
    assert "BROKEN" in result.output and "truncated" in result.output
    assert "Wrote 5 instance(s) of 2 study(ies), 3 series" in result.output


def test_output_paths_hold_only_new_uids(submitted: tuple[Result, Path, Path]) -> None:
    _, out, _ = submitted
    for path in outputs(out):
        relative = path.relative_to(out)
        assert len(relative.parts) == 3
        for part in relative.parts:
            assert part.removesuffix(".dcm").startswith("2.25.")
        dataset = pydicom.dcmread(path)
        assert relative.parts == (
            dataset.StudyInstanceUID,
            dataset.SeriesInstanceUID,
            f"{dataset.SOPInstanceUID}.dcm",
        )
        assert dataset.file_meta.MediaStorageSOPInstanceUID == dataset.SOPInstanceUID


def test_no_planted_identifier_survives_anywhere_in_the_files(
    submitted: tuple[Result, Path, Path],
    export: Path,
    patient: FakePatient,
    second_patient: FakePatient,
) -> None:
    _, out, _ = submitted
    planted = planted_identifiers(patient) + planted_identifiers(second_patient)
    original_uids = set()
    for path in source_files(export):
        dataset = pydicom.dcmread(path)
        original_uids |= {
            dataset.SOPInstanceUID,
            dataset.StudyInstanceUID,
            dataset.SeriesInstanceUID,
            dataset.FrameOfReferenceUID,
        }
    for path in outputs(out):
        text = path.read_bytes().decode("utf-8", errors="replace").upper()
        for value in planted + sorted(original_uids):
            assert value.upper() not in text, f"{value!r} left in {path.name}"


def test_record_of_deidentification(submitted: tuple[Result, Path, Path]) -> None:
    _, out, _ = submitted
    for path in outputs(out):
        dataset = pydicom.dcmread(path)
        assert dataset.PatientIdentityRemoved == "YES"
        assert "ps315-basic 2026d.3" in dataset.DeidentificationMethod
        codes = [
            (item.CodeValue, item.CodingSchemeDesignator)
            for item in dataset.DeidentificationMethodCodeSequence
        ]
        assert codes == [("113100", "DCM")]


def test_uids_map_consistently_into_references(
    submitted: tuple[Result, Path, Path], export: Path
) -> None:
    """A reference to another instance points at that instance's new UID; one study, one UID."""
    _, out, audit = submitted
    new_by_original = {}
    for record in read_records(audit):
        if record["type"] == "change" and record["path"] == "(0008,0018)":
            new_by_original[record["old"]] = record["new"]
    assert len(set(new_by_original.values())) == len(new_by_original) == 5  # injective
    cleaned = {path.stem: pydicom.dcmread(path) for path in outputs(out)}
    originals = {
        str(pydicom.dcmread(path).SOPInstanceUID): pydicom.dcmread(path)
        for path in source_files(export)
    }
    for original_uid, source in originals.items():
        new = cleaned[new_by_original[original_uid]]
        assert new.SourceImageSequence[0].ReferencedSOPInstanceUID == new.SOPInstanceUID
        referenced = source.ReferencedImageSequence[0].ReferencedSOPInstanceUID
        if referenced in new_by_original:
            assert (
                new.ReferencedImageSequence[0].ReferencedSOPInstanceUID
                == new_by_original[referenced]
            )
    studies = {dataset.StudyInstanceUID for dataset in cleaned.values()}
    assert len(studies) == 2


def test_pixel_data_is_byte_identical(submitted: tuple[Result, Path, Path], export: Path) -> None:
    _, out, _ = submitted
    source_pixels = sorted(pydicom.dcmread(path).PixelData for path in source_files(export))
    output_pixels = sorted(pydicom.dcmread(path).PixelData for path in outputs(out))
    assert source_pixels == output_pixels


def test_same_input_and_key_give_byte_identical_files(export: Path, tmp_path: Path) -> None:
    first = submit(export, tmp_path / "first", Settings(profile="ps315-basic"))
    second = submit(export, tmp_path / "second", Settings(profile="ps315-basic"))
    assert first.written == second.written == 5
    names = [path.relative_to(tmp_path / "first") for path in outputs(tmp_path / "first")]
    assert names == [path.relative_to(tmp_path / "second") for path in outputs(tmp_path / "second")]
    for name in names:
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes()


def test_another_key_gives_other_uids(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    submit(export, tmp_path / "first", Settings(profile="ps315-basic"))
    monkeypatch.setenv("BSTI_SUBMIT_KEY_FILE", str(tmp_path / "other.key"))
    submit(export, tmp_path / "second", Settings.load(profile="ps315-basic"))
    first = {path.name for path in outputs(tmp_path / "first")}
    second = {path.name for path in outputs(tmp_path / "second")}
    assert first and second and not first & second


def test_audit_log_records_every_change_and_outcome(submitted: tuple[Result, Path, Path]) -> None:
    result, out, audit = submitted
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600
    records = read_records(audit)
    header, footer = records[0], records[-1]
    assert header["type"] == "run" and footer["type"] == "end"
    assert set(header["versions"]) >= {"bsti-submit", "pydicom", "deid", "python"}
    profile_file = builtin_profiles_dir() / "ps315-basic.deid"
    assert header["profile"]["sha256"] == hashlib.sha256(profile_file.read_bytes()).hexdigest()
    outcomes = {Path(r["file"]).name: r for r in records if r["type"] == "file"}
    statuses = [r["status"] for r in records if r["type"] == "file"]
    assert outcomes["notes.txt"]["status"] == "skipped"
    assert outcomes["DICOMDIR"]["status"] == "skipped"
    assert outcomes["BROKEN"]["status"] == "failed"
    assert statuses.count("written") == 5 and len(statuses) == 8
    assert footer["written"] == 5 and footer["failed"] == 1 and footer["skipped"] == 2
    changes = [r for r in records if r["type"] == "change"]
    assert footer["changes"] == len(changes)
    assert f"{len(changes)} attribute change(s) recorded" in result.output
    deep = "(0008,9215)[0].(0040,A043)[0].(0040,A170)[0].(0040,A123)"
    person = [c for c in changes if c["path"] == deep]
    assert len(person) == 5
    assert person[0]["keyword"] == "PersonName" and person[0]["vr"] == "PN"
    assert person[0]["action"] == "DUMMY" and person[0]["new"] == "ANONYMISED"
    removed = [c for c in changes if c["path"] == "(0010,1040)"]  # PatientAddress
    assert removed and all(c["action"] == "REMOVE" and c["new"] is None for c in removed)
    written = {r["sop"] for r in records if r.get("status") == "written"}
    assert {record["sop"] for record in changes} == written
    assert {path.stem for path in outputs(out)} == written


def test_audit_log_is_sealed_under_the_trusts_key(submitted: tuple[Result, Path, Path]) -> None:
    _, _, audit = submitted
    key = load_key(Settings.load().key_file)
    verdict = verify_chain(audit, audit_key(key))
    assert verdict.broken_at is None and verdict.complete
    assert verify_chain(audit, audit_key(bytes(32))).broken_at == 1


def test_default_audit_log_and_key_are_private(
    export: Path, tmp_path: Path, isolated_folders: Path
) -> None:
    result = run("submit", str(export), "--to", str(tmp_path / "out"), *BASIC)
    logs = list(isolated_folders.rglob("audit-*.jsonl"))
    keys = list(isolated_folders.rglob("pseudonym.key"))
    assert len(logs) == 1 and len(keys) == 1
    assert str(logs[0]) in result.output
    for path in logs + keys:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key_text = keys[0].read_text().strip()
    assert key_text not in result.output and key_text not in logs[0].read_text()


def test_key_readable_by_others_is_refused(
    export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "shared.key"
    key.write_text("ab" * 32)
    os.chmod(key, 0o644)
    monkeypatch.setenv("BSTI_SUBMIT_KEY_FILE", str(key))
    result = run("submit", str(export), "--to", str(tmp_path / "out"), *BASIC)
    assert result.exit_code == ExitStatus.CONFIG
    assert "can be read by other users" in result.output and "ab" * 32 not in result.output
    assert not (tmp_path / "out").exists() or not outputs(tmp_path / "out")


def test_version_names_the_key_dependencies() -> None:
    result = run("--version")
    assert result.exit_code == ExitStatus.SUCCESS
    for name in ("bsti-submit", "pydicom", "deid", "Python"):
        assert name in result.output


def test_profile_error_names_the_file_and_line(export: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "site.deid"
    recipe.write_text("FORMAT dicom\n%header\nREMOVE PatientName\nSCRAMBLE PatientID\n")
    result = run("submit", str(export), "--to", str(tmp_path / "out"), "--profile", str(recipe))
    assert result.exit_code == ExitStatus.CONFIG
    assert f"{recipe}:4" in result.output and "SCRAMBLE" in result.output


def test_unknown_profile_name_lists_the_built_in_ones(export: Path, tmp_path: Path) -> None:
    result = run("submit", str(export), "--to", str(tmp_path / "out"), "--profile", "nope")
    assert result.exit_code == ExitStatus.CONFIG
    assert "ps315-basic" in result.output


def test_a_custom_recipe_file_is_applied(export: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "strict.deid"
    recipe.write_text(
        "FORMAT dicom\n#@ name: strict\n#@ version: 3\n#@ extends: ps315-basic\n%header\n"
        "REMOVE PatientName\nREPLACE (0010,0020) TEACHING-01\nREPLACE SeriesDescription CHEST\n"
    )
    result = run("submit", str(export), "--to", str(tmp_path / "out"), "--profile", str(recipe))
    assert result.exit_code == ExitStatus.INPUT_ERRORS
    dataset = pydicom.dcmread(outputs(tmp_path / "out")[0])
    assert "PatientName" not in dataset and dataset.SeriesDescription == "CHEST"
    assert dataset.PatientID == "TEACHING-01"
    assert dataset.DeidentificationMethod.endswith("strict 3")


@pytest.mark.parametrize("inside", ["out", "."])
def test_destination_and_source_must_not_nest(export: Path, inside: str) -> None:
    result = run("submit", str(export), "--to", str(export / inside), *BASIC)
    assert result.exit_code == ExitStatus.USAGE
    assert "must not contain one another" in result.output
    assert not list(export.rglob("*.dcm"))


def test_sop_class_and_transfer_syntax_are_kept(
    submitted: tuple[Result, Path, Path], export: Path
) -> None:
    _, out, _ = submitted
    classes = sorted(str(pydicom.dcmread(path).SOPClassUID) for path in source_files(export))
    cleaned = [pydicom.dcmread(path) for path in outputs(out)]
    assert sorted(str(dataset.SOPClassUID) for dataset in cleaned) == classes
    for dataset in cleaned:
        assert dataset.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
        assert dataset.file_meta.MediaStorageSOPClassUID == dataset.SOPClassUID


def test_the_basic_profile_counts_patients_without_pseudonyms(tmp_path: Path) -> None:
    """ps315-basic sends no pseudonym, yet the summary counts the patients it sent."""
    first, second = FakePatient(), FakePatient(patient_id="RX7654321", name="DOE^JANE")
    export = tmp_path / "in"
    for index, patient in enumerate((first, second, first)):
        save(make_instance(patient, instance=index), export / f"image{index}")
    audit = tmp_path / "audit.jsonl"
    result = run(
        "submit", str(export), "--to", str(tmp_path / "out"), "--audit-log", str(audit), *BASIC
    )
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    assert "Patients (pseudonyms)" not in result.output
    footer = json.loads(audit.read_text().splitlines()[-1])
    assert footer["patients"] == 2


def test_verbose_lists_every_file_written(export: Path, tmp_path: Path) -> None:
    args = ["submit", str(export), "--to", str(tmp_path / "out"), *BASIC]
    quiet_listing = run(*args).output
    listing = run(*args[:3], str(tmp_path / "out2"), *BASIC, "--verbose").output
    written = [path for path in export.rglob("*") if path.is_file() and "MULLER" in str(path)]
    assert any(str(path) in listing for path in written)
    assert not any(str(path) in quiet_listing for path in written if path.name != "BROKEN")
