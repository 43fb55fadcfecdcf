"""Blanking the rectangles where a device burns text into its images (a profile's mask rules).

Uncompressed pixel data is blanked in place; compressed pixel data is decoded first when a
decoder is installed and written back uncompressed. Without a decoder the image cannot be
cleaned, so the caller quarantines it.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from .deidentify import Change
from .elements import describe, tag_text
from .standard import DEIDENTIFICATION_METHODS

CLEAN_PIXEL_DATA = "113101"
Rectangle = tuple[int, int, int, int]  # x0, y0, x1, y1 in deid's %filter coordinates


class PixelMaskError(Exception):
    """The rectangles could not be blanked in these pixels."""


def parse_rectangle(text: str) -> Rectangle:
    """deid's `x0,y0,x1,y1` coordinates as a rectangle."""
    x0, y0, x1, y1 = (int(part) for part in text.split(","))
    return x0, y0, x1, y1


def blank_rectangles(dataset: Dataset, rectangles: list[Rectangle]) -> None:
    """Set every pixel inside the rectangles to 0, in every frame and sample."""
    if dataset.file_meta.TransferSyntaxUID.is_compressed:
        try:
            dataset.decompress()
        except (RuntimeError, NotImplementedError, ValueError) as error:
            raise PixelMaskError(f"compressed pixels and no decoder for them: {error}") from error
    pixels = dataset.pixel_array.copy()
    has_samples = int(dataset.get("SamplesPerPixel", 1)) > 1
    for x0, y0, x1, y1 in rectangles:
        if has_samples:
            pixels[..., y0:y1, x0:x1, :] = 0
        else:
            pixels[..., y0:y1, x0:x1] = 0
    dataset.PixelData = pixels.tobytes()


def apply_mask(dataset: Dataset, rectangles: list[Rectangle]) -> list[Change]:
    """Blank the rectangles of a matching mask rule and record it as PS3.15 asks: Burned In
    Annotation NO, and the Clean Pixel Data code in the method code sequence."""
    before = describe(dataset["PixelData"])
    blank_rectangles(dataset, rectangles)
    changes = [
        Change(
            tag_text(0x7FE00010),
            "PixelData",
            "OW",
            "MASK",
            before,
            f"{len(rectangles)} rectangle(s) blanked: {rectangles}",
        ),
    ]
    old_flag = str(dataset.get("BurnedInAnnotation", ""))
    dataset.BurnedInAnnotation = "NO"
    changes.append(Change(tag_text(0x00280301), "BurnedInAnnotation", "CS", "SET", old_flag, "NO"))
    item = Dataset()
    item.CodeValue = CLEAN_PIXEL_DATA
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = DEIDENTIFICATION_METHODS[CLEAN_PIXEL_DATA]
    dataset.DeidentificationMethodCodeSequence.append(item)
    changes.append(
        Change(
            tag_text(0x00120064),
            "DeidentificationMethodCodeSequence",
            "SQ",
            "ADD",
            "",
            CLEAN_PIXEL_DATA,
        )
    )
    return changes
