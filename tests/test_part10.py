"""The fast Part 10 writer writes exactly the bytes pydicom's own writer does, for cleaned
instances of every kind the line produces (the generated datasets of test_hostile.py check the
same for random content)."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless

from bsti_submit.deid.engine import Deidentifier
from bsti_submit.deid.profile import load_profile
from bsti_submit.deid.pseudonym import Pseudonymizer
from bsti_submit.delivery.folder import write_instance
from bsti_submit.dicomio import discover
from bsti_submit.preparer import Preparer
from bsti_submit.testing import FakePatient, make_ct_slice, make_instance, write_sample_study

from .helpers import save


def pydicom_bytes(dataset: Dataset) -> bytes:
    expected = io.BytesIO()
    dataset.save_as(expected, enforce_file_format=True)
    return expected.getvalue()


def cleaned_both_ways(path: Path, profile: str) -> tuple[bytes, bytes]:
    """A file through the line, written by write_instance and by pydicom."""
    loaded = load_profile(profile)
    preparer = Preparer(Deidentifier(loaded, Pseudonymizer(b"p" * 32), "RX1"), loaded)
    dataset = preparer.prepare(path).dataset
    ours = io.BytesIO()
    write_instance(dataset, ours)
    return ours.getvalue(), pydicom_bytes(dataset)


def odd_instance(patient: FakePatient) -> Dataset:
    """An instance with what a writer can get wrong: undefined lengths, multi-valued numbers
    and text, empty values, an ambiguous VR, and several character sets."""
    dataset = make_instance(patient)
    item = Dataset()
    item.CodeValue, item.CodeMeaning = "113100", "Basic Application Confidentiality Profile"
    item.is_undefined_length_sequence_item = True
    dataset.ReferencedStudySequence = Sequence([item])
    dataset["ReferencedStudySequence"].is_undefined_length = True
    dataset.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    dataset.WindowCenter = ["40", "-600"]
    dataset.ImagePositionPatient = [-125.5, -130.25, 7.0]
    dataset.add_new(0x00280106, "US", 0)  # Smallest Image Pixel Value, 'US or SS'
    dataset.FrameIncrementPointer = 0x00181063
    dataset.StudyComments = ""
    dataset.SpecificCharacterSet = ["ISO 2022 IR 6", "ISO 2022 IR 87"]
    dataset.PatientName = "Yamada^Tarou=山田^太郎=やまだ^たろう"
    return dataset


@pytest.mark.parametrize("profile", ["bsti-covid19", "ps315-basic"])
@pytest.mark.parametrize(
    "make",
    [
        lambda patient: make_ct_slice(patient, 3, rows=64, columns=64),
        make_instance,
        odd_instance,
    ],
    ids=["ct slice", "every identifier planted", "odd encodings"],
)
@pytest.mark.parametrize(
    "syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless], ids=str
)
def test_cleaned_instances_are_written_byte_for_byte_as_pydicom_writes_them(
    tmp_path: Path, patient: FakePatient, profile: str, make: object, syntax: pydicom.uid.UID
) -> None:
    dataset = make(patient)  # type: ignore[operator]
    dataset.file_meta.TransferSyntaxUID = syntax
    if syntax.is_encapsulated:
        dataset.PixelData = encapsulate([b"\x00\x01 compressed frame \x02\x03"])
        dataset["PixelData"].VR = "OB"
    path = tmp_path / "source.dcm"
    dataset.save_as(path, enforce_file_format=True, implicit_vr=syntax.is_implicit_VR)
    ours, theirs = cleaned_both_ways(path, profile)
    assert ours == theirs
    assert pydicom.dcmread(io.BytesIO(ours)).PatientIdentityRemoved == "YES"


def test_the_sample_study_is_written_as_pydicom_writes_it(tmp_path: Path) -> None:
    for path in write_sample_study(tmp_path / "sample"):
        ours, theirs = cleaned_both_ways(path, "bsti-covid19")
        assert ours == theirs, path.name


def test_an_untouched_file_is_copied_as_read(tmp_path: Path, patient: FakePatient) -> None:
    path = save(make_ct_slice(patient, 0, rows=32, columns=32), tmp_path / "one.dcm")
    dataset = pydicom.dcmread(path)
    ours = io.BytesIO()
    write_instance(dataset, ours)
    assert ours.getvalue() == path.read_bytes()


def test_values_left_in_the_source_file_are_copied_across(
    tmp_path: Path, patient: FakePatient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large values stay in the source file until written: Pixel Data last (copied in chunks)
    and not last (trailing padding after it, as some exports have)."""
    monkeypatch.setattr(discover, "DEFER_SIZE", 1024)
    dataset = make_ct_slice(patient, 1, rows=64, columns=64)
    plain = save(dataset, tmp_path / "plain.dcm")
    dataset.add_new(0xFFFCFFFC, "OB", b"\x00" * 2048)  # Data Set Trailing Padding
    padded = save(dataset, tmp_path / "padded.dcm")
    for path in (plain, padded):
        ours, theirs = cleaned_both_ways(path, "bsti-covid19")
        assert ours == theirs
        assert pydicom.dcmread(io.BytesIO(ours)).PixelData == dataset.PixelData


def test_values_set_after_reading_are_encoded_as_pydicom_encodes_them(
    tmp_path: Path, patient: FakePatient
) -> None:
    path = save(make_ct_slice(patient, 2, rows=32, columns=32), tmp_path / "one.dcm")
    dataset = pydicom.dcmread(path)
    dataset.add_new(0x00283002, "SS", [40000, -1000, 16])  # LUT Descriptor: first value is US
    dataset.add_new(0x00181063, "DS", "33.3")
    dataset.add_new(0x00280106, "US", [0, 1])
    dataset.add_new(0x7FE00008, "OF", b"\x00\x00\x80\x3f")
    dataset.PatientName = ["A^B", "C^D"]
    dataset.ImageComments = "ÉCHO ünïcode"
    ours = io.BytesIO()
    write_instance(dataset, ours)
    assert ours.getvalue() == pydicom_bytes(dataset)
