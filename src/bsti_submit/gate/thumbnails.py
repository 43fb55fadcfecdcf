"""PNG pictures of de-identified pixels with the masked or held text regions outlined in red: the
dry run's contact sheet, and the picture `quarantine show` puts beside a held file, so a person
sees at a glance what will leave."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Iterable

import numpy as np
from pydicom.dataset import Dataset

from ..deid.pixels import PixelError, Pixels
from ..records import Blank

THUMBNAIL_SIZE = 128
REVIEW_SIZE = 1024
_OUTLINE = (255, 0, 0)


def thumbnail_png(dataset: Dataset, outlines: Iterable[Blank] = ()) -> str | None:
    """A small PNG of the first frame, as base64; None when the pixels cannot be decoded here."""
    picture = picture_png(dataset, outlines, THUMBNAIL_SIZE)
    return None if picture is None else base64.b64encode(picture).decode("ascii")


def picture_png(
    dataset: Dataset, outlines: Iterable[Blank], size: int, frame: int = 0
) -> bytes | None:
    """One frame as an RGB PNG at most `size` pixels a side, the outlines of that frame (and
    of every frame) drawn over it; None when the pixels cannot be decoded."""
    try:
        pixels = Pixels(dataset)
        grey = pixels.display(min(frame, pixels.count - 1))
    except (PixelError, AttributeError, ValueError, TypeError):
        return None
    step = max(1, -(-max(grey.shape[:2]) // size))
    picture = grey[::step, ::step]
    rgb = np.array(picture if picture.ndim == 3 else np.repeat(picture[..., None], 3, axis=2))
    for blank in outlines:
        if blank.frame in (None, frame):
            _outline(rgb, [value // step for value in blank.box])
    return _png(rgb)


def _outline(rgb: np.ndarray, box: list[int]) -> None:
    x0, y0, x1, y1 = box
    height, width = rgb.shape[:2]
    x0, x1 = max(0, x0 - 1), min(width, x1 + 1)
    y0, y1 = max(0, y0 - 1), min(height, y1 + 1)
    rgb[y0 : y0 + 1, x0:x1] = rgb[max(y0, y1 - 1) : y1, x0:x1] = _OUTLINE
    rgb[y0:y1, x0 : x0 + 1] = rgb[y0:y1, max(x0, x1 - 1) : x1] = _OUTLINE


def _png(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG, written with zlib: no imaging library needed."""
    height, width = rgb.shape[:2]
    rows = b"".join(
        b"\x00" + np.ascontiguousarray(rgb[row], np.uint8).tobytes() for row in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
