"""The fail-closed gate: what the profile lets through, the gate stops; clean files pass."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import UID, BasicTextSRStorage, JPEGBaseline8Bit, SecondaryCaptureImageStorage

from bsti_submit.errors import ExitStatus
from bsti_submit.testing import FakePatient, make_instance

from .helpers import found_in, run, save, site_profile, submit_one

SITE = "RX1"


def written(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "out").rglob("*.dcm")) if (tmp_path / "out").exists() else []


KEPT_LEAKS: dict[str, tuple[list[str], Callable[[Dataset, FakePatient], object], str]] = {
    "name in a kept description": (
        ["KEEP StudyDescription  # justification: test"],
        lambda ds, p: setattr(ds, "StudyDescription", f"CT CHEST {p.name_parts[0]}"),
        "(0008,1030)",
    ),
    "NHS number in kept image comments": (
        ["KEEP ImageComments  # justification: test"],
        lambda ds, p: setattr(ds, "ImageComments", f"ref {p.nhs_number[:3]} {p.nhs_number[3:]}"),
        "(0020,4000)",
    ),
    "name under a kept private creator": (
        ['KEEP (0029,"FAKE SCANNER 1.0",10)  # justification: test'],
        lambda ds, p: None,  # make_instance plants the name there already
        "(0029,1010)",
    ),
    "study date inside a kept sequence": (
        [],
        lambda ds, p: setattr(
            ds.DerivationCodeSequence[0],
            "CodeMeaning",
            f"scan of {p.study_date[6:]}/{p.study_date[4:6]}/{p.study_date[:4]}",
        ),
        "(0008,9215)[0].(0008,0104)",
    ),
    "original SOP UID in free text": (
        ["KEEP ImageComments  # justification: test"],
        lambda ds, p: setattr(ds, "ImageComments", f"copy of {ds.SOPInstanceUID}"),
        "(0020,4000)",
    ),
}


def audit_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("leak", KEPT_LEAKS, ids=list(KEPT_LEAKS))
def test_the_engine_cleans_what_a_kept_attribute_holds(
    leak: str, tmp_path: Path, patient: FakePatient
) -> None:
    """A profile line keeps an attribute; the identifiers in it are cleaned all the same, each
    change audited as SCRUB, and the clean instance is delivered."""
    lines, plant, path = KEPT_LEAKS[leak]
    dataset = make_instance(patient)
    original_uid = str(dataset.SOPInstanceUID)
    plant(dataset, patient)
    audit = tmp_path / "audit.jsonl"
    recipe = site_profile(tmp_path, *lines)
    result = submit_one(tmp_path, dataset, "--profile", str(recipe), "--audit-log", str(audit))
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    (output,) = written(tmp_path)
    names = [part for part in patient.name_parts if len(part) >= 3]
    planted = (*names, patient.nhs_number[3:], original_uid, patient.study_date)
    assert found_in(output.read_bytes(), planted) == []
    scrubbed = [r for r in audit_records(audit) if r.get("action") == "SCRUB"]
    assert path in [record["path"] for record in scrubbed]


def test_an_element_unknown_to_dicom_is_held(tmp_path: Path, patient: FakePatient) -> None:
    """A damaged tag, say: the profile keeps what it does not list, and nobody can say whether
    such an element identifies."""
    dataset = make_instance(patient)
    dataset.add_new(0x005A1011, "OB", b"CSA harmless bytes")
    result = submit_one(tmp_path, dataset, "--profile", str(site_profile(tmp_path)))
    assert result.exit_code == ExitStatus.QUARANTINED, result.output
    assert "structure: element unknown to DICOM at (005A,1011)" in result.output
    assert not written(tmp_path)


def test_a_trust_hospital_number_pattern_is_cleaned(
    tmp_path: Path, patient: FakePatient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BSTI_SUBMIT_LOCAL_ID_PATTERN", r"RX\d{7}")
    dataset = make_instance(patient)
    dataset.ImageComments = "see RX7654321 for the prior"  # another patient's hospital number
    recipe = site_profile(tmp_path, "KEEP ImageComments  # justification: test")
    result = submit_one(tmp_path, dataset, "--profile", str(recipe))
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    (output,) = written(tmp_path)
    assert pydicom.dcmread(output).ImageComments == "see for the prior"


def test_clean_files_pass(tmp_path: Path, patient: FakePatient) -> None:
    result = submit_one(tmp_path, make_instance(patient))
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    assert len(written(tmp_path)) == 1


# Headers that say there is text in the pixels: held when none is found to mask.
MUST_FIND = {
    "BurnedInAnnotation YES": lambda ds: setattr(ds, "BurnedInAnnotation", "YES"),
    "a screen capture such as a dose report": lambda ds: setattr(
        ds, "SeriesDescription", "Dose Report"
    ),
}
# Headers that only choose the full reading: clean pixels are delivered.
TRIGGERS = {
    "a secondary capture": lambda ds: setattr(ds, "SOPClassUID", SecondaryCaptureImageStorage),
    "modality US": lambda ds: setattr(ds, "Modality", "US"),
    "ImageType DERIVED SECONDARY": lambda ds: setattr(ds, "ImageType", ["DERIVED", "SECONDARY"]),
    "on deid's list of devices": lambda ds: setattr(ds, "ManufacturerModelName", "LightSpeed VCT"),
    "no ImageType": lambda ds: delattr(ds, "ImageType"),
}


@pytest.mark.parametrize("claim", MUST_FIND, ids=list(MUST_FIND))
def test_a_header_that_claims_text_is_held_when_none_is_found(
    claim: str, tmp_path: Path, patient: FakePatient
) -> None:
    dataset = make_instance(patient)
    MUST_FIND[claim](dataset)
    result = submit_one(tmp_path, dataset)
    assert result.exit_code == ExitStatus.QUARANTINED, result.output
    assert f"burned-in text: {claim}, and no text was found to mask" in result.output
    assert not written(tmp_path)


@pytest.mark.parametrize("trigger", TRIGGERS, ids=list(TRIGGERS))
def test_a_header_trigger_with_clean_pixels_is_delivered_unchanged(
    trigger: str, tmp_path: Path, patient: FakePatient
) -> None:
    dataset = make_instance(patient)
    TRIGGERS[trigger](dataset)
    result = submit_one(tmp_path, dataset)
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    (output,) = written(tmp_path)
    assert pydicom.dcmread(output).PixelData == dataset.PixelData


def test_non_image_objects_are_excluded_and_reported(tmp_path: Path, patient: FakePatient) -> None:
    report = make_instance(patient)
    report.SOPClassUID = BasicTextSRStorage
    for keyword in ("PixelData", "Rows", "Columns"):
        delattr(report, keyword)
    result = submit_one(tmp_path, report)
    assert result.exit_code == ExitStatus.SUCCESS
    assert "Basic Text SR Storage: not on the profile's list of SOP classes" in result.output
    assert not written(tmp_path)


def test_a_retired_sop_class_is_named_with_its_uid(tmp_path: Path, patient: FakePatient) -> None:
    """The Ultrasound Image Storage of 1993 is not today's: the reason says which it is."""
    dataset = make_instance(patient)
    dataset.SOPClassUID = "1.2.840.10008.5.1.4.1.1.6"
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    result = submit_one(tmp_path, dataset)
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    assert "Ultrasound Image Storage (retired, 1.2.840.10008.5.1.4.1.1.6): not on" in result.output


def test_a_missing_study_uid_is_named_as_missing(tmp_path: Path, patient: FakePatient) -> None:
    dataset = make_instance(patient)
    del dataset.StudyInstanceUID
    result = submit_one(tmp_path, dataset)
    assert result.exit_code == ExitStatus.INPUT_ERRORS, result.output
    assert "no StudyInstanceUID, so no output path can be made" in result.output


def test_release_needs_each_finding_named_and_works_once(
    tmp_path: Path, patient: FakePatient
) -> None:
    dataset = make_instance(patient)
    dataset.BurnedInAnnotation = "YES"
    assert submit_one(tmp_path, dataset).exit_code == ExitStatus.QUARANTINED
    held_id = run("quarantine", "list").output.split()[0]
    finding = "burned-in text: BurnedInAnnotation YES, and no text was found to mask"
    refused = run("quarantine", "release", held_id, "--reason", "reviewed", "--site", SITE)
    assert refused.exit_code == ExitStatus.QUARANTINED and finding in refused.output
    assert not written(tmp_path)
    released = run(
        "quarantine", "release", held_id, "--reason", "pixels reviewed: no text",
        "--accept-finding", finding, "--site", SITE,
    )  # fmt: skip
    assert released.exit_code == ExitStatus.SUCCESS, released.output
    (output,) = written(tmp_path)
    assert pydicom.dcmread(output).PatientIdentityRemoved == "YES"
    again = run("quarantine", "release", held_id, "--reason", "twice", "--site", SITE)
    assert again.exit_code == ExitStatus.USAGE and "already released" in again.output
    assert len(written(tmp_path)) == 1
    log = Path(released.output.split("Audit log: ")[1].strip())
    (record,) = [r for r in audit_records(log) if r["type"] == "release"]
    assert record["quarantine_id"] == held_id and record["reason"] == "pixels reviewed: no text"
    assert record["user"] and record["findings"] == [finding] and record["accepted"] == [finding]
    assert "released" in run("quarantine", "list").output


def leaky_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: an engine whose text cleaning misses everything, as a bug would."""
    from bsti_submit.deid.engine import _Run

    monkeypatch.setattr(_Run, "_clean_text", lambda self, text, technical=False: text)


def test_what_the_cleaner_misses_the_gate_holds_and_show_names(
    tmp_path: Path, patient: FakePatient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the cleaner broken, the gate (reading the written bytes) holds the instance; the
    summary and the audit log name the check, the kind and the path, never the value; `show`
    gives the reviewer the matching text; a release cleans again with the mended engine."""
    dataset = make_instance(patient)
    dataset.SeriesDescription = f"AXIAL for {patient.name_parts[0]}"
    audit = tmp_path / "a.jsonl"
    with monkeypatch.context() as patched:
        leaky_engine(patched)
        result = submit_one(tmp_path, dataset, "--audit-log", str(audit))
    assert result.exit_code == ExitStatus.QUARANTINED, result.output
    expected = "residual identifier: name (PatientName) at (0008,103E)"
    assert expected in result.output and patient.name_parts[0] not in result.output
    (outcome,) = [r for r in audit_records(audit) if r["type"] == "file"]
    assert outcome["status"] == "quarantined" and expected in str(outcome["reason"])
    assert patient.name_parts[0] not in str(outcome["reason"])
    held_id = str(outcome["quarantine_id"])
    assert patient.name_parts[0] not in run("quarantine", "list").output
    shown = run("quarantine", "show", held_id)
    assert expected in shown.output and f"in: AXIAL for {patient.name_parts[0]}" in shown.output
    assert "--accept-finding '(0008,103E)'" in shown.output
    released = run("quarantine", "release", held_id, "--reason", "cleaner mended", "--site", SITE)
    assert released.exit_code == ExitStatus.SUCCESS, released.output
    (output,) = written(tmp_path)
    assert pydicom.dcmread(output).SeriesDescription == "AXIAL for"


MASK_RULE = (
    "%filter masks",
    "LABEL ACME ultrasound with the patient's name top left",
    "  contains Manufacturer ACME",
    "  + contains Modality US",
    "  coordinates 0,0,8,4",
)


def ultrasound_region(x0: int, y0: int, x1: int, y1: int) -> Dataset:
    region = Dataset()
    region.RegionLocationMinX0, region.RegionLocationMinY0 = x0, y0
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = x1, y1
    return region


@pytest.mark.parametrize("from_header", [False, True], ids=["rule's rectangle", "header's"])
def test_a_mask_rule_blanks_exactly_its_rectangle(
    tmp_path: Path, patient: FakePatient, from_header: bool
) -> None:
    dataset = make_instance(patient, modality="CT")
    dataset.Modality = "US"
    original = np.frombuffer(dataset.PixelData, dtype="<u2").reshape(16, 16).copy()
    rule = MASK_RULE
    if from_header:  # the rectangle as the scanner describes it: an ultrasound region
        dataset.SequenceOfUltrasoundRegions = [ultrasound_region(0, 0, 8, 4)]
        rule = (*MASK_RULE[:-1], "  coordinates from:SequenceOfUltrasoundRegions")
    recipe = site_profile(tmp_path, *rule, base="bsti-covid19")
    result = submit_one(tmp_path, dataset, "--profile", str(recipe))
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    (output,) = [pydicom.dcmread(path) for path in written(tmp_path)]
    pixels = output.pixel_array
    assert (pixels[0:4, 0:8] == 0).all()
    outside = np.ones_like(pixels, dtype=bool)
    outside[0:4, 0:8] = False
    assert (pixels[outside] == original[outside]).all()
    assert output.BurnedInAnnotation == "NO"
    codes = [item.CodeValue for item in output.DeidentificationMethodCodeSequence]
    assert "113101" in codes


@pytest.mark.parametrize("with_rule", [False, True], ids=["no mask rule", "mask rule"])
def test_undecodable_pixels_are_held(tmp_path: Path, patient: FakePatient, with_rule: bool) -> None:
    dataset = make_instance(patient)
    dataset.Modality = "US"
    dataset.PixelData = encapsulate([b"\xff\xd8 not really a jpeg \xff\xd9"])
    dataset["PixelData"].VR = "OB"
    dataset.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    recipe = site_profile(tmp_path, *MASK_RULE, base="bsti-covid19")
    options = ("--profile", str(recipe)) if with_rule else ()
    result = submit_one(tmp_path, dataset, *options)
    assert result.exit_code == ExitStatus.QUARANTINED
    (line,) = [line for line in result.output.splitlines() if "pixels cannot be read" in line]
    assert "burned-in text: pixels cannot be read" in line and "pylibjpeg" in line  # one line
    assert not written(tmp_path)


def test_an_image_whose_header_says_no_rows_is_held(tmp_path: Path, patient: FakePatient) -> None:
    """Found by the hostile-bytes test: Rows 0 (a damaged header) stopped the whole run with a
    numpy IndexError while the pixels were read for text."""
    dataset = make_instance(patient)
    dataset.Rows = 0
    result = submit_one(tmp_path, dataset)
    assert result.exit_code == ExitStatus.QUARANTINED, result.output
    assert "pixels cannot be read (the header gives an empty image" in result.output


def test_of_two_copies_the_readable_one_is_delivered(tmp_path: Path, patient: FakePatient) -> None:
    """Two files with one SOP Instance UID: the first in sort order cannot be decoded, the
    second can. The second is delivered; the first stays held."""
    readable = make_instance(patient)
    readable.Modality = "US"
    broken = copy.deepcopy(readable)
    broken.PixelData = encapsulate([b"\xff\xd8 not really a jpeg \xff\xd9"])
    broken["PixelData"].VR = "OB"
    broken.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    save(broken, tmp_path / "in" / "a-copy")
    save(readable, tmp_path / "in" / "b-copy")
    result = run("submit", str(tmp_path / "in"), "--to", str(tmp_path / "out"), "--site", SITE)
    assert result.exit_code == ExitStatus.QUARANTINED, result.output  # the broken copy is held
    (output,) = written(tmp_path)
    assert pydicom.dcmread(output).PixelData == readable.PixelData
    assert "duplicate" not in result.output


def written_bytes(tmp_path: Path, dataset: Dataset) -> Path:
    path = tmp_path / "written.dcm"
    save(dataset, path)
    return path


def test_digits_inside_a_uid_are_no_false_alarm(tmp_path: Path, patient: FakePatient) -> None:
    """Digits that spell an original date inside a longer number (a new UID) are no residual
    identifier; the same date written with separators in a text value is."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    from bsti_submit.deid.identifiers import collect
    from bsti_submit.deid.profile import load_profile
    from bsti_submit.gate.verify import Verifier

    cleaned = Dataset()
    cleaned.file_meta = FileMetaDataset()
    cleaned.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    cleaned.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.2")
    cleaned.file_meta.MediaStorageSOPInstanceUID = UID("2.25.1")
    cleaned.PatientIdentityRemoved = "YES"
    cleaned.FrameOfReferenceUID = "2.25.99915046199"  # 150461: the birth date as dd/mm/yy
    verifier, original = Verifier(load_profile("ps315-basic")), collect(make_instance(patient))
    assert verifier.check(written_bytes(tmp_path, cleaned), original) == []
    cleaned.ImageComments = "born 15-04-61"
    found = [str(finding) for finding in verifier.check(written_bytes(tmp_path, cleaned), original)]
    assert found == ["residual identifier: date (PatientBirthDate) at (0020,4000)"]


def test_a_release_accepts_a_finding_by_its_path_and_refuses_without_the_source(
    tmp_path: Path, patient: FakePatient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reviewer may accept what the gate still finds, named by its path (audited); a held
    instance whose source file is gone cannot be cleaned again, so it is not released."""
    dataset = make_instance(patient)
    dataset.SeriesDescription = f"AXIAL for {patient.name_parts[0]}"
    leaky_engine(monkeypatch)  # the cleaner stays broken for the whole test
    assert submit_one(tmp_path, dataset).exit_code == ExitStatus.QUARANTINED
    held_id = run("quarantine", "list").output.split()[0]
    args = ("quarantine", "release", held_id, "--reason", "judged", "--site", SITE)
    refused = run(*args)
    assert refused.exit_code == ExitStatus.QUARANTINED and "at (0008,103E)" in refused.output
    assert patient.name_parts[0] not in refused.output
    partly = run(*args, "--accept-finding", "(0008,103E)")  # the study description has it too
    assert partly.exit_code == ExitStatus.QUARANTINED and "at (0008,1030)" in partly.output
    released = run(*args, "--accept-finding", "(0008,103E)", "--accept-finding", "(0008,1030)")
    assert released.exit_code == ExitStatus.SUCCESS, released.output
    assert "accepted: residual identifier: name (PatientName) at (0008,103E)" in released.output

    second = make_instance(patient, instance=5)
    second.SeriesDescription = f"AXIAL for {patient.name_parts[0]}"
    assert submit_one(tmp_path / "two", second).exit_code == ExitStatus.QUARANTINED
    listing = run("quarantine", "list").output.splitlines()
    ids = [line.split()[0] for line in listing if not line.startswith(" ")]
    (second_id,) = [entry for entry in ids if entry != held_id]
    (tmp_path / "two" / "in" / "image1").unlink()
    gone = run("quarantine", "release", second_id, "--reason", "x", "--site", SITE)
    assert gone.exit_code == ExitStatus.USAGE and "cannot be cleaned again" in gone.output


def test_show_and_release_name_an_unknown_id(tmp_path: Path) -> None:
    for command in (("show", "nosuchid"), ("release", "nosuchid", "--reason", "x")):
        result = (
            run("quarantine", *command, "--site", SITE)
            if command[0] == "release"
            else run("quarantine", *command)
        )
        assert (
            result.exit_code == ExitStatus.USAGE
            and "no quarantined instance with ID nosuchid" in result.output
        )
