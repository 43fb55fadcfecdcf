"""The gate reads the bytes that leave: identifiers planted after the engine has run (as a bug in
the engine or the writer would leave them) are found wherever they sit; the tool's own values,
kept technical values and class UIDs are not findings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian

from bsti_submit.deid.identifiers import OriginalIdentifiers
from bsti_submit.gate.verify import Verifier
from bsti_submit.preparer import build_preparer
from bsti_submit.records import Finding
from bsti_submit.testing import FakePatient, make_instance

from .helpers import save

KEY = b"k" * 32


def cleaned(
    tmp_path: Path, original: Dataset, profile: str = "bsti-covid19"
) -> tuple[Path, OriginalIdentifiers, Verifier]:
    """The engine's output for `original`, as written, with what the gate checks it against."""
    source = save(original, tmp_path / "source.dcm")
    preparer = build_preparer(profile, KEY, "RX1", "")
    target = tmp_path / "written.dcm"
    prepared = preparer.stage(source, target)
    assert prepared.findings == [], "the engine's own output must pass"
    return target, prepared.original, preparer.verifier


def tampered(path: Path, change: Callable[[Dataset], None], **save_options: object) -> Path:
    dataset = pydicom.dcmread(path)
    change(dataset)
    dataset.save_as(path, enforce_file_format=True, **save_options)  # type: ignore[arg-type]
    return path


def text_in(tag: str, value: str) -> Callable[[Dataset], None]:
    return lambda ds: setattr(ds, tag, value)


def nested(ds: Dataset) -> None:
    inner = Dataset()
    inner.CodeValue, inner.CodingSchemeDesignator = "1", "99X"
    inner.CodeMeaning = "CT for Muller"
    outer = Dataset()
    outer.ConceptNameCodeSequence = Sequence([inner])
    ds.ContentSequence = Sequence([outer])


PATIENT = FakePatient()
PLANTED: dict[str, tuple[Callable[[Dataset], None], str, str]] = {
    "name in a description": (
        text_in("StudyDescription", "CT for Zoe Muller"),
        "residual identifier: name (PatientName)",
        "(0008,1030)",
    ),
    "name two sequences deep": (
        nested,
        "residual identifier: name (PatientName)",
        "(0040,A730)[0].(0040,A043)[0].(0008,0104)",
    ),
    "hospital number with a prefix": (
        text_in("SeriesDescription", "MRN:RX-1234567"),
        "residual identifier: ID (PatientID)",
        "(0008,103E)",
    ),
    "birth date spelled out": (
        text_in("SeriesDescription", "dob 15 April 1961"),
        "residual identifier: date (PatientBirthDate)",
        "(0008,103E)",
    ),
    "institution by its initials in a code": (
        text_in("SeriesDescription", "SNGH CT THORAX"),
        "residual identifier: institution (InstitutionName)",
        "(0008,103E)",
    ),
    "an NHS number in any spacing": (
        text_in("SeriesDescription", "99 901 234 54"),
        "NHS or CHI number: in text",
        "(0008,103E)",
    ),
    "a telephone number": (
        text_in("SeriesDescription", "call +44 (0) 7700 900123"),
        "telephone number: in text",
        "(0008,103E)",
    ),
    "a postcode": (
        text_in("SeriesDescription", "from SW1A 1AA"),
        "postcode: in text",
        "(0008,103E)",
    ),
    "an e-mail address": (
        text_in("SeriesDescription", "zoe.m@example.org"),
        "e-mail address: in text",
        "(0008,103E)",
    ),
    "a URL": (
        text_in("SeriesDescription", "see https://pacs.example/viewer?id=9"),
        "URL: in text",
        "(0008,103E)",
    ),
    "name as UTF-16 in binary": (
        lambda ds: ds.add_new(0x00420011, "OB", "Zoe Muller".encode("utf-16-le")),
        "residual identifier: name (PatientName)",
        "(0042,0011)",
    ),
    "the real name where the pseudonym belongs": (
        text_in("PatientName", "MULLER^ZOE"),
        "residual identifier: name (PatientName)",
        "(0010,0010)",
    ),
    "name in the file meta": (
        lambda ds: setattr(ds.file_meta, "SourceApplicationEntityTitle", "MULLER"),
        "residual identifier: name (PatientName)",
        "(0002,0016)",
    ),
}


@pytest.mark.parametrize("plant", PLANTED, ids=list(PLANTED))
def test_the_gate_finds_what_is_planted_in_the_written_bytes(plant: str, tmp_path: Path) -> None:
    change, expected, path = PLANTED[plant]
    written, original, verifier = cleaned(tmp_path, make_instance(PATIENT))
    findings = verifier.check(tampered(written, change), original)
    assert f"{expected} at {path}" in [str(finding) for finding in findings]


def test_an_original_instance_uid_is_found_in_a_uid_element(tmp_path: Path) -> None:
    source = make_instance(PATIENT)
    uid = str(source.SOPInstanceUID)
    written, original, verifier = cleaned(tmp_path, source)
    findings = verifier.check(tampered(written, text_in("ReferencedSOPInstanceUID", uid)), original)
    assert [str(f) for f in findings] == [
        "residual identifier: instance UID (SOPInstanceUID) at (0008,1155)"
    ]


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian])
def test_the_gate_reads_other_transfer_syntaxes(tmp_path: Path, syntax: str) -> None:
    written, original, verifier = cleaned(tmp_path, make_instance(PATIENT))

    def recode(ds: Dataset) -> None:
        ds.SeriesDescription = "Muller"
        ds.file_meta.TransferSyntaxUID = UID(syntax)

    findings = verifier.check(tampered(written, recode), original)
    assert "residual identifier: name (PatientName) at (0008,103E)" in [str(f) for f in findings]


@pytest.mark.parametrize("where", ["preamble", "after the dataset"])
def test_the_gate_reads_the_preamble_and_what_follows_the_dataset(
    tmp_path: Path, where: str
) -> None:
    written, original, verifier = cleaned(tmp_path, make_instance(PATIENT))
    data = bytearray(written.read_bytes())
    name = b"MULLER ZOE"
    if where == "preamble":
        data[: len(name)] = name
    else:
        data += name
    written.write_bytes(bytes(data))
    found = [str(f) for f in verifier.check(written, original)]
    assert f"structure: bytes in the {where} at {where}" in found
    assert f"residual identifier: name (PatientName) at {where}" in found


def test_a_file_that_does_not_parse_is_held(tmp_path: Path) -> None:
    written, original, verifier = cleaned(tmp_path, make_instance(PATIENT))
    written.write_bytes(written.read_bytes()[:200])
    (finding,) = verifier.check(written, original)
    assert finding.check == "structure" and "does not parse" in finding.kind


def test_a_finding_carries_the_value_for_the_reviewer_but_never_prints_it(tmp_path: Path) -> None:
    written, original, verifier = cleaned(tmp_path, make_instance(PATIENT))
    tampered(written, text_in("StudyDescription", "CT for Zoe Muller"))
    (finding,) = verifier.check(written, original)
    assert finding.text == "CT for Zoe Muller"
    assert "Muller" not in str(finding) and "Muller" not in repr(finding)
    assert finding == Finding(finding.check, finding.kind, finding.path)


def technical_lookalikes() -> Dataset:
    """A clean header whose names and IDs look like the technical values around them."""
    dataset = make_instance(FakePatient(name="PRIMARY^PATIENT^RIS", institution="SIEMENS"))
    dataset.Manufacturer = "SIEMENS"
    dataset.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    dataset.ConvolutionKernel = "B30f"
    dataset.StudyID = "40"
    dataset.WindowCenter = "40"
    dataset.SeriesNumber = 20200324
    dataset.PatientBirthDate = "19000101"
    dataset.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    dataset.add_new(0x00080102, "SH", "ACME_RIS")  # `_` joins a technical token: no name RIS
    dataset.ReferencedImageSequence[0].ReferencedSOPClassUID = "1.3.12.2.1107.5.9.1"
    return dataset


@pytest.mark.parametrize("profile", ["bsti-covid19", "ps315-basic"])
def test_technical_values_and_the_tools_own_are_no_findings(tmp_path: Path, profile: str) -> None:
    written, original, verifier = cleaned(tmp_path, technical_lookalikes(), profile)
    assert verifier.check(written, original) == []
    data = written.read_bytes()
    assert b"Retain Patient Characteristics" in data or profile == "ps315-basic"
    assert b"ACME_RIS" in data and b"1.3.12.2.1107.5.9.1" in data
    assert pydicom.dcmread(written).Manufacturer == "SIEMENS"  # the institution's name too


def test_a_deflated_body_that_does_not_inflate_is_held(tmp_path: Path) -> None:
    written, original, verifier = cleaned(tmp_path, make_instance(PATIENT))
    tampered(written, text_in("SeriesDescription", "AXIAL"), **{})
    dataset = pydicom.dcmread(written)
    dataset.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    dataset.save_as(written, enforce_file_format=True)
    raw = bytearray(written.read_bytes())
    raw[-20:] = b"\xff" * 20  # the end of the deflated stream damaged
    written.write_bytes(bytes(raw))
    findings = verifier.check(written, original)
    assert findings and findings[0].check == "structure"
    assert "does not parse" in findings[0].kind
