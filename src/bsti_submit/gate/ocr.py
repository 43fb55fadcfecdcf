"""Reading text drawn into pixels, offline on the CPU.

The engine is RapidOCR: PaddleOCR's PP-OCRv4 detection and recognition models run by
onnxruntime. Its wheel carries the models, so nothing is fetched at run time, and it installs
from the package index alone on Linux, Windows and macOS (Tesseract needs a system program;
benchmarks/compare_ocr.py compares the two). The models load on first use, once per process.

Every region the detector finds is returned, however unsure the recogniser is of its text: a
box whose text cannot be read is still text, and the caller masks it.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..records import Rectangle

# The detector sees images at most this many pixels a side (a 2,000 x 2,500 radiograph at half
# size: its printed text is still 10 pixels or more high), and at least SMALLEST_SIDE: smaller
# images are enlarged by a whole factor, so a screen font a few pixels high becomes legible.
DETECTION_SIDE = 1280
SMALLEST_SIDE = 720
_MAX_ENLARGEMENT = 4
# The detector's memory grows with the pixels it sees at once (about 300 MB a megapixel), so a
# large image is read in tiles of at most TILE pixels a side, overlapping by more than a line of
# text is high.
TILE = 768
OVERLAP = 64
_REMEMBERED = 64  # images whose regions are kept, by a hash of their pixels
_MARGIN = 2  # pixels added around each box: the detector's boxes hug the ink


@dataclass(frozen=True)
class TextRegion:
    """A box of text in a frame's own pixels, what the recogniser read there and how sure it
    was (0 to 1)."""

    box: Rectangle
    text: str
    confidence: float


class TextReader:
    """Finds and reads text in 8-bit grey or RGB images. One reader serves a whole process
    (`shared_reader`): its models take about 100 MB and half a second to load."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._recent: OrderedDict[tuple[object, ...], list[TextRegion]] = OrderedDict()

    def read(self, image: np.ndarray) -> list[TextRegion]:
        """Every text region in `image`, in its own coordinates. The same pixels seen again
        (a repeated frame, a file sent twice) are not read again."""
        key = (image.shape, hashlib.blake2b(np.ascontiguousarray(image).data).digest())
        if key in self._recent:
            self._recent.move_to_end(key)
            return self._recent[key]
        regions = self._detect(image)
        self._recent[key] = regions
        if len(self._recent) > _REMEMBERED:
            self._recent.popitem(last=False)
        return regions

    def _detect(self, image: np.ndarray) -> list[TextRegion]:
        scale = _scale_for(image.shape[0], image.shape[1])
        seen = _resized(_as_rgb(image), scale)
        height, width = image.shape[:2]
        regions = []
        for top, left in _tiles(seen.shape[0], seen.shape[1]):
            tile = seen[
                top : top + _tile_size(seen.shape[0]), left : left + _tile_size(seen.shape[1])
            ]
            result, _ = self._loaded()(np.ascontiguousarray(tile))
            for points, text, confidence in result or []:
                corners = np.asarray(points, dtype=np.float64) + np.array([left, top])
                regions.append(
                    TextRegion(_box(corners, scale, width, height), str(text), float(confidence))
                )
        return _without_repeats(regions)

    def _loaded(self) -> Any:
        if self._engine is None:
            self._engine = _load_engine()
        return self._engine


@functools.cache
def shared_reader() -> TextReader:
    """This process's reader; its models load on first use."""
    return TextReader()


def _load_engine() -> Any:
    # onnxruntime (1.32 on Linux) keeps a device ID and a telemetry queue in the user's cache
    # folder, to send usage events to Microsoft: neither belongs on a hospital's machine. The
    # variable is read when its library loads, so it is set before the first import.
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime
    from rapidocr_onnxruntime import RapidOCR

    onnxruntime.disable_telemetry_events()

    options = {
        "text_score": 0.0,  # keep every box, however unsure its text
        "det_box_thresh": 0.3,  # and faint or tiny text: a box too many costs a mask
        "det_limit_type": "max",
        "det_limit_side_len": DETECTION_SIDE * _MAX_ENLARGEMENT,  # we scaled already
        "max_side_len": DETECTION_SIDE * _MAX_ENLARGEMENT,
    }
    return RapidOCR(**options)


def _tile_size(length: int) -> int:
    """Tiles split a side evenly into pieces of at most TILE, overlapping by OVERLAP."""
    pieces = max(1, math.ceil((length - OVERLAP) / (TILE - OVERLAP)))
    return min(length, math.ceil((length + (pieces - 1) * OVERLAP) / pieces))


def _tiles(height: int, width: int) -> list[tuple[int, int]]:
    """The top-left corners of the tiles the detector reads one at a time."""

    def starts(length: int) -> list[int]:
        size = _tile_size(length)
        step = size - OVERLAP if size < length else length
        return list(range(0, max(1, length - OVERLAP), step))

    return [(top, left) for top in starts(height) for left in starts(width)]


def _without_repeats(regions: list[TextRegion]) -> list[TextRegion]:
    """Regions read twice where tiles overlap: the larger of two nested boxes stays."""

    def inside(small: Rectangle, large: Rectangle) -> bool:
        return (
            small[0] >= large[0]
            and small[1] >= large[1]
            and small[2] <= large[2]
            and small[3] <= large[3]
        )

    kept: list[TextRegion] = []
    for region in sorted(regions, key=lambda r: -(r.box[2] - r.box[0]) * (r.box[3] - r.box[1])):
        if not any(inside(region.box, other.box) for other in kept):
            kept.append(region)
    return kept


def _scale_for(height: int, width: int) -> float:
    """Enlarge small images by a whole factor, to one tile at most; shrink large ones to
    DETECTION_SIDE."""
    if max(height, width) > DETECTION_SIDE:
        return DETECTION_SIDE / max(height, width)
    if min(height, width) < SMALLEST_SIDE:
        factor = math.ceil(SMALLEST_SIDE / max(1, min(height, width)))
        return float(min(_MAX_ENLARGEMENT, factor, max(1, TILE // max(height, width))))
    return 1.0


def _resized(image: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return image
    import cv2

    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(image, size, interpolation=interpolation))


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    return image


def _box(points: np.ndarray, scale: float, width: int, height: int) -> Rectangle:
    """The detector's four corners as an upright rectangle in the original pixels, with a
    margin."""
    corners = points / scale
    x0, y0 = np.floor(corners.min(axis=0)) - _MARGIN
    x1, y1 = np.ceil(corners.max(axis=0)) + _MARGIN + 1
    return (
        max(0, int(x0)),
        max(0, int(y0)),
        min(width, int(x1)),
        min(height, int(y1)),
    )
