"""Telling DICOM by content in a messy PACS export, and never skipping a file silently."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import ImplicitVRLittleEndian, JPEGBaseline8Bit

from bsti_submit.config import Settings
from bsti_submit.dicomio.discover import discover, read_instance
from bsti_submit.errors import InstanceError, NotAnInstanceError
from bsti_submit.run import submit
from bsti_submit.testing import FakePatient, make_instance, write_dicomdir

from .helpers import save


def part10_bytes(tmp_path: Path, patient: FakePatient) -> bytes:
    return save(make_instance(patient), tmp_path / "whole.dcm").read_bytes()


def test_dicom_is_told_by_content_not_name(tmp_path: Path, patient: FakePatient) -> None:
    source = tmp_path / "src"
    whole = part10_bytes(tmp_path, patient)
    (source / "deep" / "er").mkdir(parents=True)
    (source / "deep" / "er" / "1.2.3").write_bytes(whole)  # extensionless PACS name
    (source / "IMAGE.JPG").write_bytes(whole)  # a misleading extension
    (source / "no_preamble").write_bytes(whole[132:])  # Part 10 with no preamble
    (source / "report.dcm").write_text("not DICOM at all")
    (source / "empty").write_bytes(b"")
    found = discover(source)
    assert sorted(path.name for path in found.candidates) == ["1.2.3", "IMAGE.JPG", "no_preamble"]
    reasons = {skipped.path.name: skipped.reason for skipped in found.skipped}
    assert reasons == {"report.dcm": "not a DICOM file", "empty": "empty file"}


def test_a_part10_file_without_preamble_and_a_bare_implicit_dataset_are_read(
    tmp_path: Path, patient: FakePatient
) -> None:
    whole = part10_bytes(tmp_path, patient)
    no_preamble = tmp_path / "no_preamble"
    no_preamble.write_bytes(whole[132:])
    bare = make_instance(patient)
    del bare.file_meta
    bare_path = tmp_path / "bare"
    bare.save_as(bare_path, implicit_vr=True, little_endian=True)
    assert bare_path.read_bytes()[:2] == b"\x08\x00"
    for path in (no_preamble, bare_path):
        assert discover(tmp_path).candidates.count(path) == 1
        assert read_instance(path).PatientID == patient.patient_id
    assert read_instance(bare_path).file_meta.TransferSyntaxUID == ImplicitVRLittleEndian


@pytest.mark.parametrize("cut", [140, 300, 600, 1000, 2000, -1, -300])
def test_truncated_files_are_refused_with_a_reason(
    tmp_path: Path, patient: FakePatient, cut: int
) -> None:
    whole = part10_bytes(tmp_path, patient)
    path = tmp_path / "cut"
    path.write_bytes(whole[:cut])
    with pytest.raises(InstanceError, match=r"truncated|corrupt|not a DICOM instance|cut off"):
        read_instance(path)


@pytest.mark.parametrize(
    "extra",
    [b"\x00" * 3, b"\x00" * 1024, b"JUNKJUNKJUNK1234", b"\x00\x00\x00\x00MULLER ZOE"],
    ids=["3 NULs", "1 KiB of NULs", "stray bytes", "NULs then a name"],
)
def test_a_complete_dataset_with_bytes_after_it_is_delivered_without_them(
    tmp_path: Path, patient: FakePatient, extra: bytes
) -> None:
    outputs = []
    for name, tail in (("plain", b""), ("padded", extra)):
        path = save(make_instance(patient), tmp_path / name / "src" / "image")
        path.write_bytes(path.read_bytes() + tail)
        summary = submit(path.parent, tmp_path / name / "out", Settings(profile="ps315-basic"))
        assert summary.written == 1, summary.failed
        (output,) = (tmp_path / name / "out").rglob("*.dcm")
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1]  # the stray bytes are never copied


def test_dicomdir_is_skipped_not_failed(tmp_path: Path, patient: FakePatient) -> None:
    write_dicomdir(tmp_path / "INDEX", patient)
    with pytest.raises(NotAnInstanceError, match="DICOMDIR"):
        read_instance(tmp_path / "INDEX")


def test_garbage_never_stops_the_run(tmp_path: Path, patient: FakePatient) -> None:
    source = tmp_path / "src"
    save(make_instance(patient), source / "good")
    whole = part10_bytes(tmp_path, patient)
    (source / "garbage").write_bytes(whole[:132] + bytes(range(256)) * 4)
    (source / "zeros").write_bytes(b"\x02\x00" + b"\x00" * 500)
    summary = submit(source, tmp_path / "out", Settings(profile="ps315-basic"))
    assert summary.written == 1
    failed = {entry.path.name for entry in summary.failed}
    skipped = {entry.path.name for entry in summary.skipped}
    assert failed | skipped == {"garbage", "zeros"}
    assert all(entry.reason for entry in summary.failed + summary.skipped)


def test_compressed_pixel_data_without_text_passes_through_untouched(
    tmp_path: Path, patient: FakePatient
) -> None:
    """Decoded to be read for burned-in text, and delivered as it came: no text, no change."""
    dataset = make_instance(patient)
    dataset.BitsAllocated = dataset.BitsStored = 8
    dataset.HighBit = 7
    image = Image.fromarray(np.linspace(0, 255, 256).astype(np.uint8).reshape(16, 16))
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG")
    dataset.PixelData = encapsulate([jpeg.getvalue()])
    dataset["PixelData"].VR = "OB"
    dataset.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    source = save(dataset, tmp_path / "src" / "jpeg").parent
    summary = submit(source, tmp_path / "out", Settings(profile="ps315-basic"))
    assert summary.written == 1, summary.failed
    output = pydicom.dcmread(next((tmp_path / "out").rglob("*.dcm")))
    assert output.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
    assert output.PixelData == dataset.PixelData


def test_links_never_lead_outside_the_source(tmp_path: Path, patient: FakePatient) -> None:
    outside = save(make_instance(patient), tmp_path / "elsewhere" / "secret")
    source = tmp_path / "src"
    save(make_instance(patient, instance=1), source / "inside")
    (source / "link_out").symlink_to(outside)
    (source / "folder_link").symlink_to(outside.parent, target_is_directory=True)
    (source / "link_in").symlink_to(source / "inside")
    found = discover(source)
    assert sorted(path.name for path in found.candidates) == ["inside", "link_in"]
    reasons = {entry.path.name: entry.reason for entry in found.skipped}
    assert "outside the source folder" in reasons["link_out"]
    assert "not followed" in reasons["folder_link"]


@pytest.mark.parametrize(
    "syntax",
    [
        pydicom.uid.ExplicitVRBigEndian,
        pydicom.uid.DeflatedExplicitVRLittleEndian,
        pydicom.uid.JPEG2000Lossless,
        pydicom.uid.RLELossless,
        pydicom.uid.ImplicitVRLittleEndian,
    ],
    ids=lambda syntax: syntax.name,
)
def test_odd_but_valid_transfer_syntaxes_work_without_reencoding(
    tmp_path: Path, patient: FakePatient, syntax: pydicom.uid.UID
) -> None:
    dataset = make_instance(patient)
    dataset.ReferencedStudySequence = []  # an empty sequence too
    if syntax.is_encapsulated:  # real compressed pixels (they are decoded to be read)
        dataset.Rows = dataset.Columns = 64  # OpenJPEG refuses a 16 x 16 image
        dataset.PixelData = np.arange(64 * 64, dtype="<u2").tobytes()
        dataset.compress(syntax)
    dataset.file_meta.TransferSyntaxUID = syntax
    source = tmp_path / "src"
    source.mkdir()
    dataset.save_as(
        source / "one",
        enforce_file_format=True,
        little_endian=syntax.is_little_endian,
        implicit_vr=syntax.is_implicit_VR,
    )
    summary = submit(source, tmp_path / "out", Settings(profile="ps315-basic"))
    assert summary.written == 1, summary.failed
    output = pydicom.dcmread(next((tmp_path / "out").rglob("*.dcm")))
    assert output.file_meta.TransferSyntaxUID == syntax
    assert output.PixelData == pydicom.dcmread(source / "one").PixelData
    assert output.PatientIdentityRemoved == "YES" and "PatientAddress" not in output


def _body(part10: bytes) -> tuple[bytes, bytes]:
    """A Part 10 file's preamble and file meta, and its dataset."""
    meta_end = 144 + int.from_bytes(part10[140:144], "little")
    return part10[:meta_end], part10[meta_end:]


def test_an_implicit_body_under_an_explicit_transfer_syntax_is_delivered(
    tmp_path: Path, patient: FakePatient
) -> None:
    """Seen in the wild (pydicom's SC_rgb_jpeg.dcm): the header says explicit VR, the body is
    implicit. pydicom reads it; its writer could not, and the run failed with a TypeError."""
    dataset = make_instance(patient)
    explicit = save(dataset, tmp_path / "explicit.dcm").read_bytes()
    dataset.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    implicit = save(dataset, tmp_path / "implicit.dcm").read_bytes()
    mixed = tmp_path / "in" / "mixed.dcm"
    mixed.parent.mkdir()
    mixed.write_bytes(_body(explicit)[0] + _body(implicit)[1])
    summary = submit(mixed.parent, tmp_path / "out", Settings(site="RX1"))
    assert summary.written == 1, summary
    (output,) = (tmp_path / "out").rglob("*.dcm")
    cleaned = pydicom.dcmread(output)
    assert cleaned.file_meta.TransferSyntaxUID.is_implicit_VR is False
    assert cleaned.Modality == dataset.Modality and cleaned.PatientID != patient.patient_id


def test_a_header_only_image_is_skipped_with_its_reason(
    tmp_path: Path, patient: FakePatient
) -> None:
    dataset = make_instance(patient)
    del dataset.PixelData
    source = save(dataset, tmp_path / "in" / "header-only.dcm").parent
    summary = submit(source, tmp_path / "out", Settings(site="RX1"))
    (skipped,) = summary.skipped
    assert "without Pixel Data" in skipped.reason and "truncated" not in skipped.reason
    assert summary.failed == [] and summary.exit_status == 0


def test_native_ybr_full_422_pixels_are_not_called_truncated(
    tmp_path: Path, patient: FakePatient
) -> None:
    """YBR_FULL_422 stores two bytes a pixel (Y Y Cb Cr for each pair), not three."""
    dataset = make_instance(patient)
    dataset.Rows, dataset.Columns = 64, 80
    dataset.SamplesPerPixel, dataset.PlanarConfiguration = 3, 0
    dataset.PhotometricInterpretation = "YBR_FULL_422"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
    pairs = np.tile(np.array([120, 130, 128, 128], np.uint8), 64 * 80 // 2)
    dataset.PixelData = pairs.tobytes()
    for group in (0x6000, 0x5000):
        for tag in [element.tag for element in dataset if element.tag.group == group]:
            del dataset[tag]
    source = save(dataset, tmp_path / "in" / "ybr.dcm").parent
    summary = submit(source, tmp_path / "out", Settings(site="RX1"))
    assert summary.written == 1, (summary.failed, summary.quarantined)
    (output,) = (tmp_path / "out").rglob("*.dcm")
    assert pydicom.dcmread(output).PixelData == dataset.PixelData
