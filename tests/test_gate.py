"""The fail-closed gate: what the profile lets through, the gate stops; clean files pass."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from click.testing import CliRunner, Result
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import BasicTextSRStorage, JPEGBaseline8Bit, SecondaryCaptureImageStorage

from bsti_submit.cli import main
from bsti_submit.synthetic import FakePatient, make_instance

from .helpers import save

SITE = "RX1"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def site_profile(tmp_path: Path, *lines: str, base: str = "ps315-basic") -> Path:
    path = tmp_path / "site.deid"
    header = ["FORMAT dicom", "#@ name: leaky-site", "#@ version: 1", f"#@ extends: {base}"]
    path.write_text("\n".join([*header, "%header", *lines]) + "\n", encoding="utf-8")
    return path


def submit_one(tmp_path: Path, dataset: Dataset, *options: str) -> Result:
    """Submit one instance from a neutrally named folder, so paths on screen hold no name."""
    source = save(dataset, tmp_path / "in" / "image1").parent
    return run("submit", str(source), "--to", str(tmp_path / "out"), "--site", SITE, *options)


def written(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "out").rglob("*.dcm")) if (tmp_path / "out").exists() else []


LEAKS = {
    "name in a kept description": (
        ["KEEP StudyDescription  # justification: test"],
        lambda ds, p: setattr(ds, "StudyDescription", f"CT CHEST {p.name_parts[0]}"),
        "residual identifier: PatientName",
    ),
    "NHS number in kept image comments": (
        ["KEEP ImageComments  # justification: test"],
        lambda ds, p: setattr(ds, "ImageComments", f"ref {p.nhs_number[:3]} {p.nhs_number[3:]}"),
        "NHS or CHI number",
    ),
    "name under a kept private creator": (
        ['KEEP (0029,"FAKE SCANNER 1.0",10)  # justification: test'],
        lambda ds, p: None,  # make_instance plants the name there already
        "residual identifier: PatientName",
    ),
    "study date inside a kept sequence": (
        [],
        lambda ds, p: setattr(ds.DerivationCodeSequence[0], "CodeValue", p.study_date),
        "residual identifier: date",
    ),
    "patient ID glued into an element DICOM does not know": (
        [],  # a damaged tag, say: the profile keeps what it does not list
        lambda ds, p: ds.add_new(0x005A1011, "OB", f"CSA{p.patient_id}".encode()),
        "element (005A,1011) unknown to DICOM",
    ),
    "original SOP UID in free text": (
        ["KEEP ImageComments  # justification: test"],
        lambda ds, p: setattr(ds, "ImageComments", f"copy of {ds.SOPInstanceUID}"),
        "residual identifier: original instance UID",
    ),
}


@pytest.mark.parametrize("leak", LEAKS, ids=list(LEAKS))
def test_the_gate_stops_what_the_profile_lets_through(
    leak: str, tmp_path: Path, patient: FakePatient
) -> None:
    lines, plant, expected = LEAKS[leak]
    dataset = make_instance(patient)
    plant(dataset, patient)
    result = submit_one(tmp_path, dataset, "--profile", str(site_profile(tmp_path, *lines)))
    assert result.exit_code == 5, result.output
    assert expected in result.output
    assert not written(tmp_path)
    for value in (*patient.name_parts, patient.nhs_number, patient.study_date):
        assert value not in result.output
    held = run("quarantine", "list")
    assert expected in held.output and "held" in held.output


def test_a_trust_hospital_number_pattern_is_enforced(
    tmp_path: Path, patient: FakePatient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BSTI_SUBMIT_LOCAL_ID_PATTERN", r"RX\d{7}")
    dataset = make_instance(patient)
    dataset.ImageComments = "see RX7654321 for the prior"  # another patient's hospital number
    recipe = site_profile(tmp_path, "KEEP ImageComments  # justification: test")
    result = submit_one(tmp_path, dataset, "--profile", str(recipe))
    assert result.exit_code == 5
    assert "hospital number" in result.output and "RX7654321" not in result.output


def test_clean_files_pass(tmp_path: Path, patient: FakePatient) -> None:
    result = submit_one(tmp_path, make_instance(patient))
    assert result.exit_code == 0, result.output
    assert len(written(tmp_path)) == 1


RISKS = {
    "BurnedInAnnotation YES": lambda ds: setattr(ds, "BurnedInAnnotation", "YES"),
    "secondary capture": lambda ds: setattr(ds, "SOPClassUID", SecondaryCaptureImageStorage),
    "modality SC, OT, US or XC": lambda ds: setattr(ds, "Modality", "US"),
    "ImageType SECONDARY": lambda ds: setattr(ds, "ImageType", ["DERIVED", "SECONDARY"]),
    "screen capture such as a dose report": lambda ds: setattr(
        ds, "SeriesDescription", "Dose Report"
    ),
    "matches deid's list of devices": lambda ds: setattr(
        ds, "ManufacturerModelName", "LightSpeed VCT"
    ),
}


@pytest.mark.parametrize("risk", RISKS, ids=list(RISKS))
def test_each_burned_in_risk_is_quarantined(
    risk: str, tmp_path: Path, patient: FakePatient
) -> None:
    dataset = make_instance(patient)
    RISKS[risk](dataset)
    result = submit_one(tmp_path, dataset)
    assert result.exit_code == 5, result.output
    assert f"burned-in text risk: {risk}" in result.output
    assert not written(tmp_path)


def test_non_image_objects_are_excluded_and_reported(tmp_path: Path, patient: FakePatient) -> None:
    report = make_instance(patient)
    report.SOPClassUID = BasicTextSRStorage
    for keyword in ("PixelData", "Rows", "Columns"):
        delattr(report, keyword)
    result = submit_one(tmp_path, report)
    assert result.exit_code == 0
    assert "Basic Text SR Storage: not on the profile's list of SOP classes" in result.output
    assert not written(tmp_path)


def test_release_works_once_and_is_audited(tmp_path: Path, patient: FakePatient) -> None:
    dataset = make_instance(patient)
    dataset.BurnedInAnnotation = "YES"
    assert submit_one(tmp_path, dataset).exit_code == 5
    listing = run("quarantine", "list").output
    held_id = listing.split()[0]
    released = run("quarantine", "release", held_id, "--reason", "pixels reviewed: no text")
    assert released.exit_code == 0, released.output
    (output,) = written(tmp_path)
    assert pydicom.dcmread(output).PatientIdentityRemoved == "YES"
    again = run("quarantine", "release", held_id, "--reason", "twice")
    assert again.exit_code == 2 and "already released" in again.output
    assert len(written(tmp_path)) == 1
    log = Path(released.output.split("Audit log: ")[1].strip())
    records = [json.loads(line) for line in log.read_text().splitlines()]
    (record,) = [r for r in records if r["type"] == "release"]
    assert record["quarantine_id"] == held_id and record["reason"] == "pixels reviewed: no text"
    assert record["user"] and record["findings"] == ["burned-in text risk: BurnedInAnnotation YES"]
    assert "released" in run("quarantine", "list").output


def test_the_audit_log_names_the_check_not_the_identifier(
    tmp_path: Path, patient: FakePatient
) -> None:
    dataset = make_instance(patient)
    dataset.StudyDescription = f"CT {patient.name_parts[0]}"
    recipe = site_profile(tmp_path, "KEEP StudyDescription  # justification: test")
    result = submit_one(
        tmp_path, dataset, "--profile", str(recipe), "--audit-log", str(tmp_path / "a.jsonl")
    )
    assert result.exit_code == 5
    records = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    (outcome,) = [r for r in records if r["type"] == "file"]
    assert outcome["status"] == "quarantined" and outcome["quarantine_id"]
    assert "residual identifier: PatientName" in outcome["reason"]
    assert patient.name_parts[0] not in outcome["reason"]


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
    assert result.exit_code == 0, result.output
    (output,) = [pydicom.dcmread(path) for path in written(tmp_path)]
    pixels = output.pixel_array
    assert (pixels[0:4, 0:8] == 0).all()
    outside = np.ones_like(pixels, dtype=bool)
    outside[0:4, 0:8] = False
    assert (pixels[outside] == original[outside]).all()
    assert output.BurnedInAnnotation == "NO"
    codes = [item.CodeValue for item in output.DeidentificationMethodCodeSequence]
    assert "113101" in codes


def test_a_mask_rule_on_undecodable_pixels_quarantines(
    tmp_path: Path, patient: FakePatient
) -> None:
    dataset = make_instance(patient)
    dataset.Modality = "US"
    dataset.PixelData = encapsulate([b"\xff\xd8 not really a jpeg \xff\xd9"])
    dataset["PixelData"].VR = "OB"
    dataset.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    recipe = site_profile(tmp_path, *MASK_RULE, base="bsti-covid19")
    result = submit_one(tmp_path, dataset, "--profile", str(recipe))
    assert result.exit_code == 5
    assert "mask rule not applied" in result.output
    assert not written(tmp_path)


def test_digits_inside_a_uid_are_no_false_alarm(patient: FakePatient) -> None:
    """Digits that spell an original date inside a longer number (a new UID) are no residual
    identifier; the same date written with separators in a text value is."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    from bsti_submit.identifiers import collect
    from bsti_submit.profile import load_profile
    from bsti_submit.verify import Verifier

    cleaned = Dataset()
    cleaned.file_meta = FileMetaDataset()
    cleaned.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    cleaned.PatientIdentityRemoved = "YES"
    cleaned.FrameOfReferenceUID = "2.25.99915046199"  # 150461: the birth date as dd/mm/yy
    verifier, original = Verifier(load_profile("ps315-basic")), collect(make_instance(patient))
    assert verifier.check(cleaned, original) == []
    cleaned.ImageComments = "born 15-04-61"
    found = [str(finding) for finding in verifier.check(cleaned, original)]
    assert found == ["residual identifier: date (PatientBirthDate)"]
