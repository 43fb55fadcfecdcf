"""Small PNG thumbnails of de-identified pixels, for the dry run's contact sheet, so a person can
see at a glance whether an image still shows a name. Pixels are decoded only here."""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np
from pydicom.dataset import Dataset

THUMBNAIL_SIZE = 128


def thumbnail_png(dataset: Dataset) -> str | None:
    """A grey PNG, at most THUMBNAIL_SIZE pixels a side, of the first frame, as base64; None when
    the pixels cannot be decoded here (compressed without a decoder, or no pixels)."""
    try:
        pixels = dataset.pixel_array
    except (AttributeError, RuntimeError, NotImplementedError, ValueError, TypeError):
        return None
    frame = _first_frame(np.asarray(pixels), int(dataset.get("NumberOfFrames", 1) or 1))
    step = max(1, -(-max(frame.shape[:2]) // THUMBNAIL_SIZE))
    small = frame[::step, ::step].astype(np.float64)
    low, high = float(small.min()), float(small.max())
    grey = np.zeros(small.shape, np.uint8) if high == low else (small - low) * 255 / (high - low)
    return base64.b64encode(_png(grey.astype(np.uint8))).decode("ascii")


def _first_frame(pixels: np.ndarray, frames: int) -> np.ndarray:
    frame = pixels[0] if frames > 1 else pixels
    if frame.ndim == 3:  # colour: average the samples
        frame = frame.mean(axis=2)
    return frame


def _png(grey: np.ndarray) -> bytes:
    """An 8-bit greyscale PNG, written with zlib: no imaging library needed."""
    height, width = grey.shape
    rows = b"".join(b"\x00" + grey[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + (chunk(b"IEND", b""))
    )
