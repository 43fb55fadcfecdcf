"""An instance's pixel data: decoded once, blanked where text was found, the bits above HighBit
cleared, and the cleaning recorded as PS3.15 asks.

Uncompressed pixels are read as a view of the stored bytes (no copy, whatever the number of
frames) and copied only when something must change. Compressed pixels are decoded with the
installed decoders (pylibjpeg, pyjpegls, Pillow); when they must change, the instance is written
uncompressed. Pixels that cannot be decoded raise PixelError, and the caller holds the instance.
"""

from __future__ import annotations

import logging

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.processing import convert_color_space
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian

from ..dicomio.elements import tag_text
from ..records import Blank, Change, Rectangle
from .standard import method_code_item

# pydicom logs each failed decoder attempt with its traceback; a failure is reported here once,
# as one line naming the file (PixelError), so those records would only reach a user as noise.
logging.getLogger("pydicom.pixels.decoders.base").setLevel(logging.CRITICAL)

CLEAN_PIXEL_DATA = "113101"
PIXEL_DATA = tag_text(0x7FE00010)


class PixelError(Exception):
    """The pixel data cannot be decoded or changed here."""


def parse_rectangle(text: str) -> Rectangle:
    """deid's `x0,y0,x1,y1` coordinates as a rectangle."""
    x0, y0, x1, y1 = (int(part) for part in text.split(","))
    return x0, y0, x1, y1


class Pixels:
    """The frames of one instance, shape (frames, rows, columns) or (..., samples) for colour.

    `frames` is read-only; `blank` and `clear_high_bits` switch to a private copy, which `store`
    writes back into the dataset."""

    def __init__(self, dataset: Dataset) -> None:
        if "PixelData" not in dataset:
            raise PixelError("no pixel data")
        self.dataset = dataset
        self.compressed = bool(dataset.file_meta.TransferSyntaxUID.is_compressed)
        native = None if self.compressed else _native_view(dataset)
        # pydicom decodes colour to RGB, whatever the stored colour space
        self.decoded = native is None
        self.frames = _decoded(dataset) if native is None else native
        if self.frames.size == 0:  # Rows or Columns 0: a damaged header, nothing to read
            raise PixelError(f"the header gives an empty image ({self.frames.shape})")
        self.changed = False

    @property
    def count(self) -> int:
        return int(self.frames.shape[0])

    def display(self, frame: int) -> np.ndarray:
        """One frame as 8-bit grey or RGB, contrast stretched, for reading text."""
        return self._shown(self.frames[frame])

    def projections(self) -> list[np.ndarray]:
        """The brightest and the darkest value of each pixel over all frames, for display: text
        that any frame shows, bright or dark, shows in one of them."""
        return [self._shown(self.frames.max(axis=0)), self._shown(self.frames.min(axis=0))]

    def _shown(self, pixels: np.ndarray) -> np.ndarray:
        if pixels.ndim == 3 and self._stored_as_ybr():
            pixels = convert_color_space(pixels, "YBR_FULL", "RGB")
        return _stretch(pixels)

    def blank(self, blanks: list[Blank]) -> None:
        """Set every pixel inside the rectangles to the blank value (black)."""
        frames = self._writable()
        rows, columns = frames.shape[1:3]
        value = (0, 128, 128) if self._stored_as_ybr() else 0  # black
        for blank in blanks:
            x0, y0, x1, y1 = blank.box
            area = (slice(max(0, y0), min(rows, y1)), slice(max(0, x0), min(columns, x1)))
            chosen = slice(None) if blank.frame is None else blank.frame
            frames[(chosen, *area)] = value

    def clear_high_bits(self) -> int:
        """Zero the bits above HighBit (signed values: copies of the sign bit), where an overlay
        or a device's own marks can hide; returns how many stored words had other bits set."""
        if self.compressed:
            return 0  # a codec stores only BitsStored bits
        stored, allocated = int(self.dataset.BitsStored), int(self.dataset.BitsAllocated)
        if stored >= allocated or allocated not in (16, 32):
            return 0
        signed = int(self.dataset.get("PixelRepresentation", 0)) == 1
        unsigned = f"{self.frames.dtype.str[0]}u{allocated // 8}"  # in the stored byte order
        dirty = 0
        for index in range(self.count):  # frame by frame: a long cine stays small in memory
            words = self.frames[index].view(unsigned)
            kept = _low_bits(words, stored, signed)
            if np.array_equal(words, kept):
                continue
            dirty += int(np.count_nonzero(words != kept))
            self._writable()[index].view(unsigned)[...] = kept
        return dirty

    def store(self) -> None:
        """Write changed pixels back, uncompressed and colour by pixel (planar configuration 0)."""
        if not self.changed:
            return
        dataset = self.dataset
        # a new element: the old one may be encapsulated (undefined length, fragments)
        del dataset["PixelData"]
        vr = "OW" if int(dataset.BitsAllocated) > 8 else "OB"
        dataset.add_new(0x7FE00010, vr, np.ascontiguousarray(self.frames).tobytes())
        if self.compressed:
            dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        if int(dataset.get("SamplesPerPixel", 1)) > 1:
            dataset.PlanarConfiguration = 0
            if self.decoded:
                dataset.PhotometricInterpretation = "RGB"

    def _stored_as_ybr(self) -> bool:
        photometric = str(self.dataset.get("PhotometricInterpretation", ""))
        return not self.decoded and photometric.startswith("YBR")

    def _writable(self) -> np.ndarray:
        if not self.changed:
            self.frames = np.array(self.frames)  # a private, writable copy
            self.changed = True
        return self.frames


def record_clean_pixels(dataset: Dataset, changes: list[Change]) -> None:
    """Burned In Annotation NO and the Clean Pixel Data code, once, audited."""
    old_flag = str(dataset.get("BurnedInAnnotation", ""))
    if old_flag != "NO":
        dataset.BurnedInAnnotation = "NO"
        changes.append(
            Change(tag_text(0x00280301), "BurnedInAnnotation", "CS", "SET", old_flag, "NO")
        )
    codes = dataset.setdefault("DeidentificationMethodCodeSequence", []).value
    if any(item.get("CodeValue") == CLEAN_PIXEL_DATA for item in codes):
        return
    codes.append(method_code_item(CLEAN_PIXEL_DATA))
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


def _low_bits(words: np.ndarray, stored: int, signed: bool) -> np.ndarray:
    """The stored words with only their low `stored` bits, sign-extended when signed."""
    low = np.array((1 << stored) - 1, words.dtype)
    kept = words & low
    if signed:
        sign = (kept >> (stored - 1)) & 1
        kept |= sign * ~low
    return np.asarray(kept)


def _native_view(dataset: Dataset) -> np.ndarray:
    """Uncompressed pixels as a read-only view of the stored bytes."""
    allocated = int(dataset.BitsAllocated)
    samples = int(dataset.get("SamplesPerPixel", 1))
    photometric = str(dataset.get("PhotometricInterpretation", ""))
    if allocated not in (8, 16, 32) or photometric.endswith(("_422", "_420")):
        return _decoded(dataset)  # bit-packed or subsampled: pydicom unpacks it
    signed = int(dataset.get("PixelRepresentation", 0)) == 1
    order = ">" if dataset.file_meta.TransferSyntaxUID == ExplicitVRBigEndian else "<"
    dtype = np.dtype(f"{order}{'i' if signed else 'u'}{allocated // 8}")
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    size = frames * rows * columns * samples
    data = dataset.PixelData
    if len(data) < size * dtype.itemsize:
        raise PixelError(f"pixel data holds {len(data)} bytes, {size * dtype.itemsize} expected")
    flat = np.frombuffer(data, dtype, count=size)
    if samples == 1:
        return flat.reshape(frames, rows, columns)
    if int(dataset.get("PlanarConfiguration", 0)) == 1:
        return flat.reshape(frames, samples, rows, columns).transpose(0, 2, 3, 1)
    return flat.reshape(frames, rows, columns, samples)


def _decoded(dataset: Dataset) -> np.ndarray:
    try:
        pixels = np.asarray(dataset.pixel_array)
    except (
        AttributeError,
        RuntimeError,
        NotImplementedError,
        ValueError,
        TypeError,
        KeyError,
    ) as error:
        reason = " ".join(str(error).split())  # pydicom lists each decoder on its own line
        raise PixelError(f"pixels cannot be decoded here: {reason}") from error
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    samples = int(dataset.get("SamplesPerPixel", 1))
    return pixels.reshape(frames, *pixels.shape[-3 if samples > 1 else -2 :])


def _stretch(pixels: np.ndarray) -> np.ndarray:
    """8 bits from the 1st to the 99.9th percentile of a sample of the values: a few extreme
    pixels (text drawn at the maximum, a lead marker) must not flatten everything else."""
    if pixels.dtype == np.uint8:
        return np.ascontiguousarray(pixels)
    sample = pixels[::4, ::4].ravel()
    low, high = (float(value) for value in np.percentile(sample, (1, 99.9)))
    if high <= low:
        low, high = float(pixels.min()), float(pixels.max())
    if high <= low:
        return np.zeros(pixels.shape, np.uint8)
    if pixels.dtype.kind in "ui" and pixels.dtype.itemsize == 2:
        return _stretch_words(pixels, low, high)
    scaled = (pixels.astype(np.float32) - low) * (255.0 / (high - low))
    return np.asarray(np.clip(scaled, 0, 255), np.uint8)


def _stretch_words(pixels: np.ndarray, low: float, high: float) -> np.ndarray:
    """`_stretch` for 16-bit words with OpenCV's saturating arithmetic: a slice in a
    millisecond, as the screen of every CT slice needs."""
    import cv2

    alpha = 255.0 / (high - low)
    words = np.ascontiguousarray(pixels, pixels.dtype.newbyteorder("="))
    if words.dtype.kind == "i":  # signed: shift to unsigned, order kept
        words, low = words.view(np.uint16) ^ np.uint16(0x8000), low + 0x8000
    above = cv2.subtract(words, np.full(words.shape, round(low), np.uint16))
    return np.asarray(cv2.convertScaleAbs(above, alpha=alpha))
