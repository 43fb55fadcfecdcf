"""Burned-in text, as a user sees it: text drawn into the pixels is masked (or the instance held),
markers stay, clean pixels leave unchanged, overlays in the high bits are zeroed, and the dry
run's contact sheet and `quarantine show` outline what was found."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from click.testing import Result
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRBigEndian

from bsti_submit.errors import ExitStatus
from bsti_submit.gate.ocr import TextRegion
from bsti_submit.gate.pixel_text import is_marker
from bsti_submit.testing import FakePatient, make_instance

from .helpers import run, save, submit_one

SITE = "RX1"


NAME_BOX = (40, 30, 300, 60)  # where draw_text puts the first line at size 24


def radiograph(patient: FakePatient, rows: int = 400, columns: int = 320) -> Dataset:
    """A 12-bit DX image: smooth anatomy-like ramp and noise, no text."""
    dataset = make_instance(patient, modality="CR")
    dataset.SOPClassUID = DigitalXRayImageStorageForPresentation
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.Modality = "DX"
    dataset.ImageType = ["ORIGINAL", "PRIMARY"]
    for group in (0x6000, 0x5000):  # the sample's overlay and curve: not this test's concern
        for element in [element.tag for element in dataset if element.tag.group == group]:
            del dataset[element]
    rng = np.random.default_rng(7)
    ramp = np.linspace(600, 1800, columns)[None, :] + np.linspace(0, 600, rows)[:, None]
    pixels = (ramp + rng.normal(0, 30, (rows, columns))).clip(0, 4095).astype(np.uint16)
    set_pixels(dataset, pixels, bits=12)
    return dataset


def set_pixels(dataset: Dataset, pixels: np.ndarray, bits: int = 16) -> None:
    dataset.Rows, dataset.Columns = pixels.shape[:2]
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, bits, bits - 1
    dataset.PixelRepresentation = 0
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.PixelData = pixels.astype("<u2").tobytes()


def pixels_of(dataset: Dataset) -> np.ndarray:
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    return np.frombuffer(dataset.PixelData, "<u2", rows * columns).reshape(rows, columns)


def draw_text(
    dataset: Dataset, lines: list[str], size: int = 24, at: tuple[int, int] = (40, 30)
) -> None:
    """Burn lines of text into the pixels at the image's brightest value."""
    pixels = pixels_of(dataset).copy()
    ink = Image.new("L", (pixels.shape[1], pixels.shape[0]), 0)
    draw = ImageDraw.Draw(ink)
    font = ImageFont.load_default(size=size)
    for number, line in enumerate(lines):
        draw.text((at[0], at[1] + number * (size + 8)), line, fill=255, font=font)
    pixels[np.asarray(ink) > 127] = (1 << int(dataset.BitsStored)) - 1
    dataset.PixelData = pixels.astype("<u2").tobytes()


def identity_lines(patient: FakePatient) -> list[str]:
    family, given = patient.name.split("=")[0].split("^")[:2]
    birth = patient.birth_date
    return [
        f"{family}, {given}",
        f"{patient.patient_id}",
        f"DOB {birth[6:]}/{birth[4:6]}/{birth[:4]}",
    ]


def delivered(tmp_path: Path) -> list[Dataset]:
    return [pydicom.dcmread(path) for path in sorted((tmp_path / "out").rglob("*.dcm"))]


def audit_changes(result: Result) -> list[dict[str, str]]:
    log = Path(result.output.split("Audit log: ")[1].split()[0])
    records = [json.loads(line) for line in log.read_text().splitlines()]
    return [record for record in records if record["type"] == "change"]


def hold_profile(tmp_path: Path) -> Path:
    recipe = tmp_path / "hold.deid"
    recipe.write_text("FORMAT dicom\n#@ extends: bsti-covid19\n#@ burned_in_text: hold\n")
    return recipe


@pytest.mark.parametrize(
    ("flag", "profile"),
    [("NO", "bsti-covid19"), (None, "bsti-covid19"), (None, "ps315-basic")],
    ids=["BurnedInAnnotation NO", "no flag", "no flag, basic profile"],
)
def test_a_name_drawn_on_a_radiograph_is_masked_and_recorded(
    tmp_path: Path, patient: FakePatient, flag: str | None, profile: str
) -> None:
    dataset = radiograph(patient)
    if flag:
        dataset.BurnedInAnnotation = flag
    draw_text(dataset, identity_lines(patient))
    before = pixels_of(dataset).copy()
    result = submit_one(tmp_path, dataset, "--profile", profile)
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    (output,) = delivered(tmp_path)
    after = pixels_of(output)
    brightest = (1 << 12) - 1
    assert not (after == brightest).any(), "some of the text is still in the pixels"
    unchanged = after == before
    assert unchanged[250:, :].all(), "pixels far from the text were changed"
    assert output.BurnedInAnnotation == "NO"
    assert "113101" in [item.CodeValue for item in output.DeidentificationMethodCodeSequence]
    masks = [change for change in audit_changes(result) if change["action"] == "MASK"]
    assert len(masks) >= 3 and all("blanked" in change["new"] for change in masks)
    assert any("matches an identifier" in change["new"] for change in masks)


def test_markers_stay_and_a_clean_radiograph_leaves_unchanged(
    tmp_path: Path, patient: FakePatient
) -> None:
    dataset = radiograph(patient)
    draw_text(dataset, ["R"], size=40, at=(260, 40))
    draw_text(dataset, ["PORTABLE AP"], size=20, at=(40, 340))
    result = submit_one(tmp_path, dataset)
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    (output,) = delivered(tmp_path)
    assert output.PixelData == dataset.PixelData


@pytest.mark.parametrize("named", [True, False], ids=["patient named Right", "a marker"])
def test_a_name_spelled_like_a_marker_is_masked(
    tmp_path: Path, patient: FakePatient, named: bool
) -> None:
    dataset = radiograph(patient)
    if named:
        dataset.PatientName = "RIGHT^ALEX"
    draw_text(dataset, ["RIGHT"], size=30, at=(200, 40))
    result = submit_one(tmp_path, dataset)
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    (output,) = delivered(tmp_path)
    word_left = bool((pixels_of(output) == (1 << 12) - 1).any())
    assert word_left == (not named)
    if named:
        masks = [change for change in audit_changes(result) if change["action"] == "MASK"]
        assert any("matches an identifier" in change["new"] for change in masks)


def test_hold_mode_quarantines_with_the_regions_outlined(
    tmp_path: Path, patient: FakePatient
) -> None:
    dataset = radiograph(patient)
    draw_text(dataset, identity_lines(patient))
    result = submit_one(tmp_path, dataset, "--profile", str(hold_profile(tmp_path)))
    assert result.exit_code == ExitStatus.QUARANTINED, result.output
    assert "burned-in text: text matching an identifier at frame 0" in result.output
    assert not delivered(tmp_path)
    held_id = run("quarantine", "list").output.split()[0]
    shown = run("quarantine", "show", held_id)
    assert shown.exit_code == ExitStatus.SUCCESS, shown.output
    assert "in: " in shown.output  # the recognised text, for the reviewer
    picture = Path(shown.output.split("text regions outlined in: ")[1].split()[0])
    rgb = png_pixels(picture.read_bytes())
    red = (rgb[..., 0] == 255) & (rgb[..., 1] == 0) & (rgb[..., 2] == 0)
    rows, columns = np.nonzero(red)
    assert red.any() and rows.min() < NAME_BOX[3] and columns.min() < NAME_BOX[2]


@pytest.mark.parametrize("byte_order", ["<", ">"], ids=["little-endian", "big-endian"])
def test_an_overlay_in_the_high_bits_is_zeroed(
    tmp_path: Path, patient: FakePatient, byte_order: str
) -> None:
    dataset = radiograph(patient)
    pixels = pixels_of(dataset).copy()
    pixels[100:110, 50:150] |= 1 << 12  # an overlay plane in bit 12, above HighBit 11
    dataset.PixelData = pixels.astype(f"{byte_order}u2").tobytes()
    if byte_order == ">":
        dataset.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    dataset.add_new(0x60000100, "US", 16)  # OverlayBitsAllocated
    dataset.add_new(0x60000102, "US", 12)  # OverlayBitPosition
    result = submit_one(tmp_path, dataset)
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    (output,) = delivered(tmp_path)
    assert (output.pixel_array == (pixels & 0x0FFF)).all()
    cleared = [change for change in audit_changes(result) if change["action"] == "CLEAR"]
    assert cleared and "1000 pixel(s)" in cleared[0]["old"]
    assert "113101" in [item.CodeValue for item in output.DeidentificationMethodCodeSequence]


def test_the_contact_sheet_shows_the_masked_pixels_outlined(
    tmp_path: Path, patient: FakePatient
) -> None:
    dataset = radiograph(patient)
    draw_text(dataset, identity_lines(patient))
    source = save(dataset, tmp_path / "in" / "image1").parent
    assert run("init", "--site", SITE).exit_code in (ExitStatus.SUCCESS, ExitStatus.USAGE)
    report = tmp_path / "report.html"
    result = run("scan", str(source), "--site", SITE, "--report", str(report))
    assert result.exit_code == ExitStatus.SUCCESS, result.output
    (encoded,) = [part.split("'")[0] for part in report.read_text().split("base64,")[1:]]
    rgb = png_pixels(base64.b64decode(encoded))
    red = (rgb[..., 0] == 255) & (rgb[..., 1] == 0) & (rgb[..., 2] == 0)
    assert red.any()
    step = -(-400 // rgb.shape[0])  # the thumbnail's sampling of the 400-row image
    where_text_was = (slice(0, 130 // step), slice(0, 300 // step))
    assert rgb[where_text_was][..., 0][~red[where_text_was]].max() < 230  # no white text


def png_pixels(data: bytes) -> np.ndarray:
    """The pixels of an 8-bit RGB PNG as written by bsti-submit (filter 0 on every row)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    start = data.index(b"IDAT") + 4
    length = int.from_bytes(data[start - 8 : start - 4], "big")
    rows = zlib.decompress(data[start : start + length])
    table = np.frombuffer(rows, np.uint8).reshape(height, 1 + width * 3)
    assert not table[:, 0].any()
    return table[:, 1:].reshape(height, width, 3)


def test_a_kept_icon_image_is_held_unread(tmp_path: Path, patient: FakePatient) -> None:
    dataset = radiograph(patient)
    icon = Dataset()
    icon.Rows = icon.Columns = 8
    icon.BitsAllocated = icon.BitsStored = 8
    icon.HighBit, icon.PixelRepresentation, icon.SamplesPerPixel = 7, 0, 1
    icon.PhotometricInterpretation = "MONOCHROME2"
    icon.add_new(0x7FE00010, "OB", bytes(64))
    dataset.IconImageSequence = [icon]
    recipe = tmp_path / "icons.deid"
    recipe.write_text(
        "FORMAT dicom\n#@ extends: bsti-covid19\n%header\nKEEP (0088,0200)  # justification: test\n"
    )
    result = submit_one(tmp_path, dataset, "--profile", str(recipe))
    assert result.exit_code == ExitStatus.QUARANTINED, result.output
    assert "burned-in text: an icon image is kept, unread" in result.output


@pytest.mark.parametrize(
    ("box", "text", "stays"),
    [
        ((27, 147, 454, 425), "A", True),  # a vertebra the detector took for a letter
        ((219, 98, 262, 131), "62", True),  # a bubble of gas
        ((10, 10, 30, 110), "JS", False),  # a rotated line read as two letters
        ((10, 10, 210, 30), "JS", False),  # a line too wide for two letters
    ],
)
def test_one_or_two_glyphs_alone_stay(
    box: tuple[int, int, int, int], text: str, stays: bool
) -> None:
    assert is_marker(TextRegion(box, text, 0.4)) is stays


def test_reading_deids_device_lists_leaves_its_logger_as_it_was() -> None:
    """deid's console logger is silenced while its recipes are parsed, then given back."""
    from deid.logger import bot

    from bsti_submit.gate.burned_in import BurnedInPlanner

    before = bot.level
    BurnedInPlanner()
    assert bot.level == before
