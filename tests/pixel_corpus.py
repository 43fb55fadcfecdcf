"""An adversarial synthetic corpus of DICOM images with text burned into their pixels.

For the burned-in text detector (OCR) that masks identifying text drawn into pixel data. Every
identity is made up: names and addresses are invented, NHS numbers are in the 999 test range,
telephone numbers are Ofcom's drama ranges. The corpus is deterministic: the same code, numpy,
Pillow and FreeType always build the same bytes (noise comes from generators seeded by the case
name, text from Pillow's bundled fonts).

Two kinds of case:

- identifying (``clean`` False): a fake name, ID, date of birth, NHS number, address or
  telephone number drawn in the spelling a device draws it ("TESTWOOD, ALYSSA", "DOB:
  12/03/1958", "NHS 999 123 4578"), at several sizes, places, contrasts, orientations and pixel
  layouts (12- and 16-bit, MONOCHROME1, signed CT, RGB interleaved and planar, multi-frame, an
  overlay embedded in an unused bit of the pixel words). The header carries the same identity.
  Some also hold harmless text (markers, machine settings): planted as not identifying.
- clean (``clean`` True): nothing identifying is drawn, but the image is busy or suspicious:
  noise, lung texture with ribs and vessels, sternal wires, a CT table line, a ruler with "0 5 10
  cm", "R" and "PORTABLE AP" markers, ultrasound machine settings, a test pattern, a colour
  photograph. Such a case must not be held; its planted text (allowlisted markers, a scale,
  machine settings) may be masked but need not be, and no other pixel may change.

Each `PlantedText.box` is tight around the ink actually drawn (every pixel the glyph touched,
anti-aliased edges included), in the stored image's coordinates, x1 and y1 exclusive.
`frame_pixels` reads one frame's stored values straight from PixelData, without pydicom's
decoders, so that the oracle stands apart from the tool; it keeps bits above HighBit, where the
embedded overlay's name lives (pydicom's `pixel_array` masks them away).

Fonts: BITMAP is Pillow's old 11 px bitmap font (`load_default_imagefont`; since Pillow 10.1
`load_default()` returns the bundled FreeType font instead), other sizes that FreeType font.

Run ``python -m tests.pixel_corpus FOLDER`` from the repository root to write every case.
"""

from __future__ import annotations

import functools
import math
import sys
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    UltrasoundImageStorage,
    UltrasoundMultiFrameImageStorage,
    VLPhotographicImageStorage,
    XRayAngiographicImageStorage,
    generate_uid,
)

from bsti_submit.testing import fake_nhs_number

_UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's root: made-up instances live under it
INSTITUTION = "Nowhere General Hospital"
BITMAP = 0  # the font size that means Pillow's built-in bitmap font (11 px high)


@dataclass(frozen=True)
class PlantedText:
    """One piece of text drawn into one frame."""

    frame: int  # 0-based frame index
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in stored pixels, x1/y1 exclusive, tight
    text: str  # what was drawn
    identifying: bool  # False for allowlisted markers, a scale and machine settings


@dataclass(frozen=True)
class PixelCase:
    """One synthetic image, the text drawn into it and whether any of that text identifies."""

    name: str  # unique, e.g. "cr-12bit-name-id-top-left-white-on-black"
    dataset: Dataset  # complete, with file_meta (Explicit VR Little Endian)
    planted: tuple[PlantedText, ...]
    clean: bool  # nothing identifying drawn: must not be held; only planted text may change
    note: str  # one line: what this case tests


# ---------------------------------------------------------------------------------------------
# Identities


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _date(value: str, style: str) -> str:
    """A DA value (YYYYMMDD) as devices draw it."""
    year, month, day = value[:4], value[4:6], value[6:]
    mon = _MONTHS[int(month) - 1]
    return {
        "d/m/y": f"{day}/{month}/{year}",
        "d-mon-y": f"{day}-{mon}-{year}",
        "d mon y": f"{day} {mon.title()} {year}",
        "d.m.y": f"{day}.{month}.{year}",
        "y-m-d": f"{year}-{month}-{day}",
        "ymd": value,
    }[style]


@dataclass(frozen=True)
class Person:
    """A made-up patient and the study date of the visit."""

    family: str
    given: str
    patient_id: str
    birth_date: str
    sex: str
    study_date: str
    nhs_seed: int
    address: tuple[str, ...] = ()
    telephone: str = ""

    @property
    def dicom_name(self) -> str:
        return f"{self.family}^{self.given}"

    @property
    def comma_name(self) -> str:
        return f"{self.family}, {self.given}"

    @property
    def plain_name(self) -> str:
        return f"{self.given} {self.family}"

    @property
    def nhs_number(self) -> str:
        return fake_nhs_number(self.nhs_seed)

    @property
    def nhs_spaced(self) -> str:
        number = self.nhs_number
        return f"{number[:3]} {number[3:6]} {number[6:]}"

    def dob(self, style: str) -> str:
        return _date(self.birth_date, style)

    def seen(self, style: str) -> str:
        return _date(self.study_date, style)


TESTWOOD = Person(
    "TESTWOOD",
    "ALYSSA",
    "RX10048213",
    "19580312",
    "F",
    "20200324",
    123456,
    ("14 Quillon Terrace", "Testville TV2 7QA"),
    "01632 960471",
)
QUILLFEATHER = Person("QUILLFEATHER", "BARNABY", "RX10051177", "19450907", "M", "20200327", 51177)
PENDLEBURY = Person("PENDLEBURY", "MARGOT", "RX10062290", "19720129", "F", "20200402", 62290)
OKONJO_VANE = Person("OKONJO-VANE", "TOBIAS", "RX10073346", "19900611", "M", "20200406", 73346)
LINDQVIST = Person("LINDQVIST", "HEDDA", "RX10084402", "19631204", "F", "20200409", 84402)
MCALLISTAIR = Person("MCALLISTAIR", "RUAIRI", "RX10095518", "19380722", "M", "20200414", 95518)
HAWKSMOOR = Person("HAWKSMOOR", "PRUDENCE", "RX10106634", "20010315", "F", "20200417", 106634)
FERNSBY = Person(
    "FERNSBY",
    "IGNATIUS",
    "RX10117750",
    "19551030",
    "M",
    "20200421",
    117750,
    ("3 Larkspur Mews", "Mockford TV8 2LW"),
    "07700 900362",
)


# ---------------------------------------------------------------------------------------------
# Text


@functools.cache
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bitmap font for BITMAP, else its bundled FreeType font (Aileron) at `size`."""
    if size == BITMAP:
        return ImageFont.load_default_imagefont()
    return ImageFont.load_default(size=size)


@functools.cache
def _ink(text: str, size: int, aliased: bool = False) -> tuple[np.ndarray, int, int]:
    """The text's coverage (0..1), cropped tight, and where its top-left corner lies relative
    to the point Pillow draws the text at."""
    font = _font(size)
    left, top, right, bottom = (int(edge) for edge in font.getbbox(text))
    pad = 4
    origin = (pad - min(left, 0), pad - min(top, 0))
    image = Image.new("L", (origin[0] + right + pad, origin[1] + bottom + pad), 0)
    draw = ImageDraw.Draw(image)
    if aliased:
        draw.fontmode = "1"
    draw.text(origin, text, fill=255, font=font)
    box = image.getbbox()
    if box is None:
        raise ValueError(f"no ink for {text!r}")
    ink = np.asarray(image.crop(box), dtype=np.float64) / 255.0
    ink.setflags(write=False)
    return ink, box[0] - origin[0], box[1] - origin[1]


def _line_height(size: int) -> int:
    return 11 if size == BITMAP else size


def _advance(text: str, size: int) -> int:
    return math.ceil(_font(size).getlength(text))


Value = float | tuple[float, float, float]


class _Canvas:
    """Frames of stored values being drawn on, with the text planted so far."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = [frame.astype(np.float64) for frame in frames]
        self.planted: list[PlantedText] = []

    @property
    def rows(self) -> int:
        return int(self.frames[0].shape[0])

    @property
    def cols(self) -> int:
        return int(self.frames[0].shape[1])

    def stamp(
        self,
        ink: np.ndarray,
        x: int,
        y: int,
        value: Value,
        *,
        text: str,
        identifying: bool,
        frame: int = 0,
    ) -> PlantedText:
        """Blend `ink` into a frame with its top-left corner at (x, y)."""
        height, width = ink.shape
        target = self.frames[frame]
        if x < 0 or y < 0 or x + width > target.shape[1] or y + height > target.shape[0]:
            raise ValueError(f"{text!r} at {x},{y} does not fit the frame")
        region = target[y : y + height, x : x + width]
        weight = ink if region.ndim == 2 else ink[..., None]
        region *= 1.0 - weight
        region += weight * np.asarray(value, dtype=np.float64)
        planted = PlantedText(frame, (x, y, x + width, y + height), text, identifying)
        self.planted.append(planted)
        return planted

    def text(
        self,
        text: str,
        x: int,
        y: int,
        value: Value,
        *,
        size: int,
        identifying: bool = True,
        frame: int = 0,
        rotate: int = 0,
        aliased: bool = False,
    ) -> PlantedText:
        """Draw `text` with its ink's top-left corner at (x, y); `rotate` is counter-clockwise
        in degrees (90: reads bottom to top), the text drawn apart, rotated and pasted."""
        ink = np.rot90(_ink(text, size, aliased)[0], k=rotate // 90)
        return self.stamp(ink, x, y, value, text=text, identifying=identifying, frame=frame)

    def text_at_origin(
        self,
        text: str,
        x: int,
        y: int,
        value: Value,
        *,
        size: int,
        identifying: bool = True,
        frame: int = 0,
        aliased: bool = False,
    ) -> PlantedText:
        """Draw `text` as ImageDraw.text would at (x, y): lines share a baseline."""
        ink, dx, dy = _ink(text, size, aliased)
        return self.stamp(
            ink, x + dx, y + dy, value, text=text, identifying=identifying, frame=frame
        )

    def block(
        self,
        texts: Iterable[str],
        where: str,
        value: Value,
        *,
        size: int,
        margin: int = 12,
        identifying: bool = True,
        frame: int = 0,
        aliased: bool = False,
        leading: float = 1.45,
    ) -> list[PlantedText]:
        """Draw lines as a block in a corner, an edge's middle or the centre: `where` is
        "top|centre|bottom-left|centre|right". Lines keep their baselines `leading` apart."""
        texts = list(texts)
        vertical, horizontal = where.split("-")
        rows, cols = self.frames[frame].shape[:2]
        pitch = round(_line_height(size) * leading)
        inks = [_ink(text, size, aliased) for text in texts]
        tops = [index * pitch + dy for index, (_, _, dy) in enumerate(inks)]
        bottoms = [top + ink.shape[0] for top, (ink, _, _) in zip(tops, inks, strict=True)]
        height = max(bottoms) - min(tops)
        start = {"top": margin, "bottom": rows - margin - height, "centre": (rows - height) // 2}
        shift = start[vertical] - min(tops)
        planted = []
        for text, top, (ink, _, _) in zip(texts, tops, inks, strict=True):
            width = ink.shape[1]
            x = {"left": margin, "right": cols - margin - width, "centre": (cols - width) // 2}
            planted.append(
                self.stamp(
                    ink,
                    x[horizontal],
                    top + shift,
                    value,
                    text=text,
                    identifying=identifying,
                    frame=frame,
                )
            )
        return planted

    def field(
        self,
        label: str,
        content: str,
        x: int,
        y: int,
        value: Value,
        *,
        size: int,
        identifying: bool = True,
        frame: int = 0,
    ) -> None:
        """A form line: a label that identifies nobody, then its content on the same baseline."""
        self.text_at_origin(label, x, y, value, size=size, identifying=False, frame=frame)
        gap = _advance(label + " ", size)
        self.text_at_origin(
            content, x + gap, y, value, size=size, identifying=identifying, frame=frame
        )


# ---------------------------------------------------------------------------------------------
# Backgrounds: floating-point images, in 0..1 unless said otherwise


def _rng(*parts: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("|".join(str(part) for part in parts).encode()))


def _grid(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised pixel-centre coordinates: y (rows x 1) and x (1 x cols), each in 0..1."""
    y = (np.arange(rows, dtype=np.float64)[:, None] + 0.5) / rows
    x = (np.arange(cols, dtype=np.float64)[None, :] + 0.5) / cols
    return y, x


def _ellipse(y: np.ndarray, x: np.ndarray, cy: float, cx: float, ry: float, rx: float) -> Any:
    """The squared elliptical radius: below 1 inside."""
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2


def _soft(radius2: np.ndarray, edge: float) -> np.ndarray:
    """Weight 1 inside an ellipse, falling to 0 over `edge` of its radius."""
    return np.asarray(np.clip((1.0 - np.sqrt(radius2)) / edge, 0.0, 1.0))


def _resize(image: np.ndarray, rows: int, cols: int, bicubic: bool = True) -> np.ndarray:
    method = Image.Resampling.BICUBIC if bicubic else Image.Resampling.BILINEAR
    resized = Image.fromarray(image.astype(np.float32)).resize((cols, rows), method)
    return np.asarray(resized, dtype=np.float64)


def _smooth(rng: np.random.Generator, rows: int, cols: int, cell: int) -> np.ndarray:
    """Smooth noise of about unit amplitude with features about `cell` pixels across."""
    small = rng.standard_normal((max(2, rows // cell), max(2, cols // cell)))
    return _resize(small, rows, cols)


def _vessels(
    rng: np.random.Generator, rows: int, cols: int, hila: Iterable[tuple[float, float]], count: int
) -> np.ndarray:
    """Branching tapering lines from each hilum (normalised y, x), blurred, 0..1."""
    image = Image.new("L", (cols, rows), 0)
    draw = ImageDraw.Draw(image)
    scale = cols / 1000
    for hy, hx in hila:
        for _ in range(count):
            angle = rng.uniform(0.0, 2.0 * math.pi)
            point = (hx * cols, hy * rows)
            width = rng.uniform(2.0, 6.0)
            for _ in range(6):
                angle += rng.normal(0.0, 0.35)
                step = rng.uniform(0.02, 0.05) * cols
                after = (point[0] + step * math.sin(angle), point[1] + step * math.cos(angle))
                shade = int(rng.uniform(110, 200))
                draw.line([point, after], fill=shade, width=max(1, round(width * scale)))
                point, width = after, width * 0.75
    blurred = image.filter(ImageFilter.GaussianBlur(0.6 + scale))
    return np.asarray(blurred, dtype=np.float64) / 255.0


def _ribs(y: np.ndarray, x: np.ndarray, aspect: float) -> np.ndarray:
    """Posterior rib arcs, brighter at their cortices, and two clavicles."""
    dx = np.abs(x - 0.5)
    lateral = (dx > 0.045) & (dx < 0.37)
    bone = np.zeros(np.broadcast_shapes(y.shape, x.shape))
    thickness = 0.018 / aspect
    for k in range(10):
        centre = 0.16 + 0.062 * k + 1.1 * (dx - 0.05) ** 2 - 0.05 * dx
        distance = np.abs(y - centre) / thickness
        band = (distance < 1.0) & lateral
        bone += np.where(band, 0.06 + 0.08 * distance**4, 0.0)
    clavicle = np.abs(y - (0.12 + 0.5 * (dx - 0.18) ** 2)) / (0.022 / aspect)
    bone += np.where((clavicle < 1.0) & (dx > 0.035) & (dx < 0.3), 0.10 + 0.1 * clavicle**4, 0.0)
    return bone


@functools.cache
def _anatomy(rows: int, cols: int, wires: bool) -> np.ndarray:
    """A PA chest film's attenuation, 0..1 (bright is bone), the same for every film of a size:
    lungs with texture and vessels, ribs, clavicles, heart, spine, humeral heads with bright
    cortical rims, arms. Built at about 500 columns and scaled up, which keeps it cheap."""
    rng = _rng("anatomy", rows, cols)
    work = max(1, cols // 500)
    wrows, wcols = rows // work, cols // work
    y, x = _grid(wrows, wcols)
    aspect = wrows / wcols
    torso = _soft(_ellipse(y, x, 0.66, 0.5, 0.66, 0.40), 0.04)
    arms = sum(_soft(_ellipse(y, x, 0.68, cx, 0.58, 0.055), 0.35) for cx in (0.055, 0.945))
    lungs = sum(_soft(_ellipse(y, x, 0.45, cx, 0.29, 0.15), 0.12) for cx in (0.31, 0.69))
    heart = _soft(_ellipse(y, x, 0.64, 0.55, 0.15, 0.16), 0.25)
    spine = np.clip((1.0 - np.abs(x - 0.5) / 0.04) / 0.3, 0.0, 1.0) * torso
    lungs = lungs * (1.0 - heart)
    a = 0.05 + 0.42 * torso + 0.3 * np.clip(arms, 0.0, 1.0)
    a = a - 0.27 * lungs + 0.035 * lungs * _smooth(rng, wrows, wcols, 5)
    a = a + 0.2 * heart + 0.12 * spine
    a = a + 0.16 * lungs * _vessels(rng, wrows, wcols, ((0.44, 0.4), (0.44, 0.6)), 26)
    a = a + _ribs(y, x, aspect) * torso
    for cx in (0.13, 0.87):
        head = _ellipse(y, x, 0.16, cx, 0.075 / aspect, 0.075)
        a = a + 0.18 * _soft(head, 0.3) + np.where((head < 1.0) & (head > 0.8), 0.16, 0.0)
    if wires:
        a = a + 0.35 * _sternal_wires(wrows, wcols)
    if work > 1:
        a = _resize(a, rows, cols)
    a.setflags(write=False)
    return a


def _chest(rng: np.random.Generator, rows: int, cols: int, *, wires: bool = False) -> np.ndarray:
    """A chest film: the shared anatomy, a slow density drift of its own and quantum mottle."""
    drift = 0.02 * _smooth(rng, rows, cols, max(40, cols // 12))
    return _anatomy(rows, cols, wires) + drift + rng.normal(0.0, 0.008, (rows, cols))


def _sternal_wires(rows: int, cols: int) -> np.ndarray:
    """Five twisted wire loops down the midline and two ECG electrodes with leads: no letters."""
    image = Image.new("L", (cols, rows), 0)
    draw = ImageDraw.Draw(image)
    scale = cols / 1000
    centre = cols / 2
    for k in range(5):
        top = rows * (0.3 + 0.07 * k)
        half_w, half_h = 26 * scale, 14 * scale
        box = (centre - half_w, top, centre + half_w, top + 2 * half_h)
        draw.ellipse(box, outline=255, width=max(2, round(4 * scale)))
        twist = (centre + half_w, top + half_h, centre + half_w + 18 * scale, top + half_h + 6)
        draw.line(twist, fill=255, width=max(2, round(5 * scale)))
    for cx, cy in ((0.25, 0.22), (0.78, 0.25)):
        x0, y0, r = cx * cols, cy * rows, 22 * scale
        draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), outline=200, width=max(1, round(3 * scale)))
        draw.ellipse((x0 - 5 * scale, y0 - 5 * scale, x0 + 5 * scale, y0 + 5 * scale), fill=255)
        lead = [(x0, y0 + r), (x0 + 40 * scale, y0 + 0.2 * rows), (x0 - 30 * scale, rows * 0.95)]
        draw.line(lead, fill=140, width=max(1, round(3 * scale)), joint="curve")
    return np.asarray(image.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float64) / 255.0


def _noise_film(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Quantum mottle and a slow drift of density: nothing else."""
    drift = 0.06 * _smooth(rng, rows, cols, 96) + 0.02 * _smooth(rng, rows, cols, 12)
    return 0.4 + drift + rng.normal(0.0, 0.03, (rows, cols))


def _ct_axial(
    rng: np.random.Generator, size: int = 512, *, table: bool = True, vessels: int = 60
) -> np.ndarray:
    """An axial chest CT slice in HU: air, a body disc of fat and muscle, lungs with texture and
    vessel cross-sections, heart, aorta, spine, ribs, and (with `table`) the couch."""
    y, x = _grid(size, size)
    hu = np.full((size, size), -1000.0)
    hu = np.where(_ellipse(y, x, 0.5, 0.5, 0.31, 0.41) < 1.0, -100.0, hu)
    hu = np.where(
        _ellipse(y, x, 0.5, 0.5, 0.285, 0.385) < 1.0, 40.0 + 12 * _smooth(rng, size, size, 16), hu
    )
    lungs = (_ellipse(y, x, 0.47, 0.33, 0.2, 0.135) < 1.0) | (
        _ellipse(y, x, 0.47, 0.67, 0.2, 0.135) < 1.0
    )
    heart = _ellipse(y, x, 0.47, 0.53, 0.12, 0.12) < 1.0
    lungs = lungs & ~heart
    hu = np.where(lungs, -860.0 + 35.0 * _smooth(rng, size, size, 6), hu)
    dots = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(dots)
    placed = 0
    while placed < vessels:
        py, px = rng.uniform(0.25, 0.7), rng.uniform(0.18, 0.82)
        if not lungs[int(py * size), int(px * size)]:
            continue
        radius = rng.uniform(0.8, 3.5)
        cx, cy = px * size, py * size
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=255)
        placed += 1
    branches = _vessels(rng, size, size, ((0.47, 0.42), (0.47, 0.58)), 10)
    vessel = np.maximum(np.asarray(dots, dtype=np.float64) / 255.0, branches * 1.4)
    hu = np.where(lungs, hu + np.clip(vessel, 0.0, 1.0) * 900.0, hu)
    hu = np.where(heart, 45.0, hu)
    hu = np.where(_ellipse(y, x, 0.6, 0.56, 0.035, 0.035) < 1.0, 190.0, hu)
    spine = _ellipse(y, x, 0.71, 0.5, 0.055, 0.05)
    hu = np.where(spine < 1.0, np.where(spine > 0.7, 900.0, 320.0), hu)
    for angle in np.linspace(0.35, math.pi - 0.35, 5):
        for side in (-1.0, 1.0):
            cy = 0.5 - 0.26 * math.cos(angle)
            cx = 0.5 + side * 0.36 * math.sin(angle)
            hu = np.where(_ellipse(y, x, cy, cx, 0.014, 0.02) < 1.0, 750.0, hu)
    if table:
        arc = 0.86 + 0.04 * ((x - 0.5) / 0.4) ** 2
        span = np.abs(x - 0.5) < 0.42
        hu = np.where(span & (np.abs(y - arc) < 3.0 / size), 280.0, hu)
        hu = np.where(span & (np.abs(y - arc - 14.0 / size) < 1.0 / size), 150.0, hu)
    return hu + rng.normal(0.0, 10.0, (size, size))


def _ct_coronal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A coronal chest CT reformat in HU: lungs, heart, liver, spine with discs."""
    y, x = _grid(rows, cols)
    hu = np.full((rows, cols), -1000.0)
    hu = np.where(_ellipse(y, x, 0.55, 0.5, 0.6, 0.42) < 1.0, -90.0, hu)
    hu = np.where(_ellipse(y, x, 0.55, 0.5, 0.57, 0.39) < 1.0, 45.0, hu)
    lungs = (_ellipse(y, x, 0.38, 0.3, 0.3, 0.14) < 1.0) | (
        _ellipse(y, x, 0.4, 0.7, 0.3, 0.14) < 1.0
    )
    heart = _ellipse(y, x, 0.58, 0.56, 0.13, 0.14) < 1.0
    lungs = lungs & ~heart
    hu = np.where(lungs, -850.0 + 40.0 * _smooth(rng, rows, cols, 6), hu)
    veins = _vessels(rng, rows, cols, ((0.45, 0.42), (0.45, 0.58)), 14)
    hu = np.where(lungs, hu + veins * 1000.0, hu)
    hu = np.where(heart, 50.0, hu)
    hu = np.where(_ellipse(y, x, 0.82, 0.33, 0.12, 0.17) < 1.0, 60.0, hu)
    column = np.abs(x - 0.5) < 0.045
    level = (y * 14.0) % 1.0
    hu = np.where(column & (y > 0.1), np.where(level < 0.15, 80.0, 380.0), hu)
    return hu + rng.normal(0.0, 10.0, (rows, cols))


def _mr_axial(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A T2-ish axial body MR slice, 0..4095, with a Rician noise background."""
    y, x = _grid(size, size)
    signal = np.zeros((size, size))
    body = _ellipse(y, x, 0.5, 0.5, 0.33, 0.43)
    signal = np.where(body < 1.0, np.where(body > 0.82, 1500.0, 650.0), signal)
    lungs = (_ellipse(y, x, 0.47, 0.33, 0.19, 0.13) < 1.0) | (
        _ellipse(y, x, 0.47, 0.67, 0.19, 0.13) < 1.0
    )
    signal = np.where(lungs, 60.0, signal)
    signal = np.where(_ellipse(y, x, 0.48, 0.53, 0.11, 0.11) < 1.0, 900.0, signal)
    signal = np.where(_ellipse(y, x, 0.72, 0.5, 0.05, 0.05) < 1.0, 420.0, signal)
    signal = np.where(_ellipse(y, x, 0.72, 0.5, 0.018, 0.018) < 1.0, 2200.0, signal)
    signal = signal * (1.0 + 0.1 * _smooth(rng, size, size, 24))
    real = signal + rng.normal(0.0, 30.0, (size, size))
    imaginary = rng.normal(0.0, 30.0, (size, size))
    return np.hypot(real, imaginary)


def _mr_sagittal(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A sagittal spine MR reformat, 0..4095: stacked vertebral bodies, discs, cord."""
    y, x = _grid(size, size)
    signal = np.where(np.abs(x - 0.45) < 0.3, 500.0, 0.0)
    level = (y * 9.0) % 1.0
    vertebra = (np.abs(x - 0.52) < 0.09) & (level > 0.2)
    disc = (np.abs(x - 0.52) < 0.085) & (level <= 0.2)
    signal = np.where(vertebra, 800.0, signal)
    signal = np.where(disc, 1700.0, signal)
    signal = np.where(np.abs(x - 0.67) < 0.035, 2100.0, signal)
    signal = np.where(np.abs(x - 0.67) < 0.013, 900.0, signal)
    signal = signal * (1.0 + 0.12 * _smooth(rng, size, size, 20))
    real = signal + rng.normal(0.0, 25.0, (size, size))
    return np.hypot(real, rng.normal(0.0, 25.0, (size, size)))


def _us_frame(rng: np.random.Generator, rows: int, cols: int, phase: float = 0.0) -> np.ndarray:
    """An ultrasound sector with speckle, fascia lines and a cyst, grey in RGB (0..255)."""
    yy = np.arange(rows, dtype=np.float64)[:, None]
    xx = np.arange(cols, dtype=np.float64)[None, :]
    apex_y, apex_x = rows * 0.07, cols / 2
    radius = np.hypot(yy - apex_y, xx - apex_x)
    angle = np.arctan2(xx - apex_x, yy - apex_y)
    depth = rows * 0.88
    sector = (np.abs(angle) < 0.62) & (radius > rows * 0.05) & (radius < depth)
    tissue = 0.55 + 0.2 * _smooth(rng, rows, cols, max(8, rows // 20))
    for fraction in (0.25, 0.42, 0.7):
        wave = fraction + 0.03 * np.sin(angle * 5.0 + phase)
        tissue = tissue + 0.9 * np.exp(-(((radius / depth - wave) * depth / 2.5) ** 2))
    cy, cx = rows * (0.55 + 0.02 * phase), cols * (0.45 + 0.03 * phase)
    cyst = ((yy - cy) / (rows * 0.09)) ** 2 + ((xx - cx) / (rows * 0.12)) ** 2
    tissue = np.where(cyst < 1.0, 0.05, tissue)
    speckle = rng.rayleigh(1.0, (rows, cols))
    grey = np.clip(95.0 * speckle * tissue * (1.0 - 0.45 * radius / depth), 0.0, 255.0) * sector
    return np.repeat(grey[..., None], 3, axis=2)


def _grey_bar(frame: np.ndarray, x: int, y: int, height: int, width: int = 8) -> None:
    """The grey-scale bar beside an ultrasound image: no letters."""
    ramp = np.linspace(255.0, 0.0, height)[:, None, None]
    frame[y : y + height, x : x + width] = ramp


def _photo(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A photograph-like RGB image: smooth gradients and soft coloured blobs (0..255)."""
    y, x = _grid(rows, cols)
    image = np.empty((rows, cols, 3))
    image[..., 0] = 70 + 110 * x + 20 * y
    image[..., 1] = 90 + 60 * y + 20 * x
    image[..., 2] = 150 - 70 * x * y
    colours = ((214, 170, 140), (190, 120, 100), (160, 40, 50), (230, 200, 180), (90, 60, 50))
    for _ in range(9):
        cy, cx = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9)
        sy, sx = rng.uniform(0.05, 0.25), rng.uniform(0.05, 0.25)
        alpha = np.exp(-(((y - cy) / sy) ** 2 + ((x - cx) / sx) ** 2))[..., None] * 0.85
        colour = np.array(colours[int(rng.integers(len(colours)))], dtype=np.float64)
        image = image * (1 - alpha) + colour * alpha
    for channel in range(3):
        image[..., channel] += 8.0 * _smooth(rng, rows, cols, 6)
    return image + rng.normal(0.0, 2.0, image.shape)


def _test_pattern(size: int) -> np.ndarray:
    """An SMPTE-like pattern, 0..1: grid, grey steps, line pairs, 5%/95% patches, a circle."""
    image = np.full((size, size), 0.5)
    step = size // 8
    image[::step, :] = 0.85
    image[:, ::step] = 0.85
    band = slice(size * 3 // 8, size * 5 // 8)
    for k in range(11):
        image[
            band,
            size // 8 + k * (size * 3 // 4) // 11 : size // 8 + (k + 1) * (size * 3 // 4) // 11,
        ] = k / 10
    corner = size // 6
    for index, (ys, xs) in enumerate(
        (
            (slice(8, 8 + corner), slice(8, 8 + corner)),
            (slice(8, 8 + corner), slice(size - 8 - corner, size - 8)),
            (slice(size - 8 - corner, size - 8), slice(8, 8 + corner)),
            (slice(size - 8 - corner, size - 8), slice(size - 8 - corner, size - 8)),
        )
    ):
        patch = np.zeros((corner, corner))
        width = 1 + index % 2
        if index < 2:
            patch[:, (np.arange(corner) // width) % 2 == 0] = 1.0
        else:
            patch[(np.arange(corner) // width) % 2 == 0, :] = 1.0
        image[ys, xs] = patch
    image[size // 8 : size // 8 + step, size // 2 - step : size // 2] = 0.0
    image[
        size // 8 + step // 4 : size // 8 + step * 3 // 4,
        size // 2 - step * 3 // 4 : size // 2 - step // 4,
    ] = 0.05
    image[size // 8 : size // 8 + step, size // 2 : size // 2 + step] = 1.0
    image[
        size // 8 + step // 4 : size // 8 + step * 3 // 4,
        size // 2 + step // 4 : size // 2 + step * 3 // 4,
    ] = 0.95
    y, x = _grid(size, size)
    ring = np.sqrt(_ellipse(y, x, 0.5, 0.5, 0.45, 0.45))
    return np.where(np.abs(ring - 1.0) < 1.5 / (0.45 * size), 1.0, image)


# ---------------------------------------------------------------------------------------------
# Datasets


@dataclass(frozen=True)
class _Layout:
    """How pixel values are stored."""

    bits_allocated: int = 16
    bits_stored: int = 12
    signed: bool = False
    photometric: str = "MONOCHROME2"
    planar: int = 0

    @property
    def samples(self) -> int:
        return 3 if self.photometric == "RGB" else 1

    @property
    def low(self) -> int:
        return -(1 << (self.bits_stored - 1)) if self.signed else 0

    @property
    def high(self) -> int:
        return (1 << (self.bits_stored - 1)) - 1 if self.signed else (1 << self.bits_stored) - 1

    @property
    def white(self) -> int:
        """The displayed white: the lowest value in MONOCHROME1."""
        return self.low if self.photometric == "MONOCHROME1" else self.high

    @property
    def black(self) -> int:
        return self.high if self.photometric == "MONOCHROME1" else self.low

    def level(self, fraction: float | np.ndarray) -> Any:
        """A displayed brightness (0 black, 1 white) as a stored value."""
        return self.black + (self.white - self.black) * np.asarray(fraction)


CR12 = _Layout(16, 12)
DX16 = _Layout(16, 16)
CT16 = _Layout(16, 16, signed=True)
RGB8 = _Layout(8, 8, photometric="RGB")
GREY8 = _Layout(8, 8)


def _uid(*parts: object) -> UID:
    return generate_uid(_UID_ROOT, entropy_srcs=["pixel-corpus", *(str(part) for part in parts)])


def _encode(frames: list[np.ndarray], layout: _Layout, overlay: np.ndarray | None) -> bytes:
    dtype = np.dtype(f"<{'i' if layout.signed else 'u'}{layout.bits_allocated // 8}")
    stack = np.stack([np.clip(np.rint(frame), layout.low, layout.high) for frame in frames])
    words = stack.astype(dtype)
    if overlay is not None:  # an overlay embedded in an unused high bit of each word
        words[0] |= overlay.astype(dtype)
    if layout.samples == 3 and layout.planar == 1:
        words = words.transpose(0, 3, 1, 2)
    data = np.ascontiguousarray(words).tobytes()
    return data + b"\0" * (len(data) % 2)


_TECHNIQUE: dict[str, dict[str, Any]] = {
    "CR": {
        "BodyPartExamined": "CHEST",
        "ViewPosition": "PA",
        "KVP": "110",
        "ExposureInuAs": 2100,
        "PatientOrientation": ["L", "F"],
    },
    "DX": {
        "BodyPartExamined": "CHEST",
        "ViewPosition": "AP",
        "KVP": "90",
        "PresentationIntentType": "FOR PRESENTATION",
        "PatientOrientation": ["L", "F"],
        "RescaleIntercept": "0",
        "RescaleSlope": "1",
        "RescaleType": "US",
    },
    "CT": {
        "BodyPartExamined": "CHEST",
        "KVP": "120",
        "SliceThickness": "1.25",
        "ImageOrientationPatient": ["1", "0", "0", "0", "1", "0"],
        "ImagePositionPatient": ["-180", "-180", "-125.00"],
        "PixelSpacing": ["0.703125", "0.703125"],
        "RescaleIntercept": "-1024",
        "RescaleSlope": "1",
        "RescaleType": "HU",
        "WindowCenter": "-600",
        "WindowWidth": "1600",
    },
    "MR": {
        "BodyPartExamined": "CHEST",
        "MagneticFieldStrength": "1.5",
        "SliceThickness": "6",
        "ImageOrientationPatient": ["1", "0", "0", "0", "1", "0"],
        "ImagePositionPatient": ["-200", "-200", "-40.00"],
        "PixelSpacing": ["1.5625", "1.5625"],
    },
}


def _case(
    name: str,
    note: str,
    person: Person,
    canvas: _Canvas,
    layout: _Layout,
    *,
    modality: str,
    sop_class: str,
    image_type: tuple[str, ...],
    description: str,
    burned_in: str | None = "auto",
    extra: dict[str, Any] | None = None,
    overlay: np.ndarray | None = None,
) -> PixelCase:
    """A complete instance for the drawn `canvas`: `burned_in` "auto" says YES when anything
    identifying is drawn and NO otherwise; None leaves BurnedInAnnotation out."""
    planted = tuple(canvas.planted)
    clean = not any(text.identifying for text in planted)
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = list(image_type)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = _uid("instance", name)
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = person.study_date
    ds.StudyTime = "101530"
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "101712"
    ds.AccessionNumber = "ACC" + person.patient_id[-6:]
    ds.Modality = modality
    ds.Manufacturer = "ACME MEDICAL"
    ds.ManufacturerModelName = "Imaginex"
    ds.InstitutionName = INSTITUTION
    ds.StationName = "NGH" + modality + "01"
    ds.StudyDescription = f"{modality} CHEST"
    ds.SeriesDescription = description
    ds.PatientName = person.dicom_name
    ds.PatientID = person.patient_id
    ds.IssuerOfPatientID = "NGH PAS"
    ds.PatientBirthDate = person.birth_date
    ds.PatientSex = person.sex
    other = Dataset()
    other.PatientID = person.nhs_number
    other.IssuerOfPatientID = "NHS"
    other.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = Sequence([other])
    if person.address:
        ds.PatientAddress = "^".join(person.address)
    if person.telephone:
        ds.PatientTelephoneNumbers = person.telephone
    for keyword, value in _TECHNIQUE.get(modality, {}).items():
        setattr(ds, keyword, value)
    ds.StudyInstanceUID = _uid("study", person.patient_id)
    ds.SeriesInstanceUID = _uid("series", name)
    ds.StudyID = "4471"
    ds.SeriesNumber = 1 + zlib.crc32(name.encode()) % 90
    ds.InstanceNumber = 1
    if modality in ("CT", "MR") and "ImagePositionPatient" in ds:
        ds.FrameOfReferenceUID = _uid("frame", person.patient_id)
    ds.SamplesPerPixel = layout.samples
    ds.PhotometricInterpretation = layout.photometric
    if layout.samples > 1:
        ds.PlanarConfiguration = layout.planar
    if len(canvas.frames) > 1:
        ds.NumberOfFrames = len(canvas.frames)
    ds.Rows, ds.Columns = canvas.rows, canvas.cols
    ds.BitsAllocated = layout.bits_allocated
    ds.BitsStored = layout.bits_stored
    ds.HighBit = layout.bits_stored - 1
    ds.PixelRepresentation = int(layout.signed)
    if burned_in == "auto":
        ds.BurnedInAnnotation = "NO" if clean else "YES"
    elif burned_in is not None:
        ds.BurnedInAnnotation = burned_in
    ds.LossyImageCompression = "00"
    for keyword, value in (extra or {}).items():
        setattr(ds, keyword, value)
    ds.PixelData = _encode(canvas.frames, layout, overlay)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.SourceApplicationEntityTitle = "NGHPACS01"
    return PixelCase(name, ds, planted, clean, note)


def _screen_case(
    name: str, note: str, person: Person, canvas: _Canvas, layout: _Layout, modality: str, what: str
) -> PixelCase:
    """A screen capture (SC, workstation grab) of `what` (a dose report, a workstation)."""
    return _case(
        name,
        note,
        person,
        canvas,
        layout,
        modality=modality,
        sop_class=_SC,
        image_type=_SCREEN,
        description=what,
        extra={"ConversionType": "WSD"},
    )


def _film(name: str, layout: _Layout, rows: int = 1250, cols: int = 1000, **kwargs: Any) -> _Canvas:
    """A chest film canvas in `layout`'s stored values, with some latitude left above bone."""
    attenuation = _chest(_rng(name), rows, cols, **kwargs)
    return _Canvas([layout.level(np.clip(0.04 + 0.8 * attenuation, 0.0, 1.0))])


def _film_case(
    name: str,
    note: str,
    person: Person,
    canvas: _Canvas,
    layout: _Layout,
    *,
    dx: bool = False,
    extra: dict[str, Any] | None = None,
    **kwargs: Any,
) -> PixelCase:
    """A CR (or, with `dx`, a DX for presentation) chest film 350 mm wide."""
    spacing = f"{350 / canvas.cols:g}"
    technique = {
        "ImagerPixelSpacing": [spacing, spacing],
        "PixelSpacing": [spacing, spacing],
        "WindowCenter": str((layout.high + layout.low) // 2),
        "WindowWidth": str(layout.high - layout.low),
        "PixelIntensityRelationship": "LOG",
        **(extra or {}),
    }
    kwargs.setdefault("image_type", ORIGINAL)
    kwargs.setdefault("description", "CHEST AP" if dx else "CHEST PA")
    kind: dict[str, Any] = (
        {"modality": "DX", "sop_class": DigitalXRayImageStorageForPresentation}
        if dx
        else {"modality": "CR", "sop_class": ComputedRadiographyImageStorage}
    )
    return _case(name, note, person, canvas, layout, **kind, extra=technique, **kwargs)


MONO1 = _Layout(16, 12, photometric="MONOCHROME1")
ORIGINAL = ("ORIGINAL", "PRIMARY")


# ---------------------------------------------------------------------------------------------
# Radiographs


def _radiographs() -> list[PixelCase]:
    cases = []
    p = TESTWOOD
    name = "cr-12bit-name-id-top-left-white-on-black"
    canvas = _film(name, CR12)
    canvas.block([p.comma_name, p.patient_id], "top-left", CR12.white, size=24, margin=20)
    note = "24 px name and ID, full white, over the dark direct-exposure corner"
    cases.append(_film_case(name, note, p, canvas, CR12))

    name = "cr-12bit-dob-nhs-top-right-size40"
    canvas = _film(name, CR12)
    lines = [f"DOB: {p.dob('d/m/y')}", f"NHS {p.nhs_spaced}"]
    canvas.block(lines, "top-right", CR12.white, size=40, margin=16)
    note = "40 px date of birth and spaced NHS number, right-aligned in the top-right corner"
    cases.append(_film_case(name, note, p, canvas, CR12))

    p = QUILLFEATHER
    name = "dx-16bit-name-bottom-left-black-on-white-label"
    canvas = _film(name, DX16)
    canvas.frames[0][1250 - 150 : 1250 - 14, 14 : 14 + 380] = DX16.white
    lines = [p.comma_name, p.patient_id, p.dob("d-mon-y")]
    canvas.block(lines, "bottom-left", DX16.black, size=24, margin=30)
    note = "black 24 px text on a white film-label rectangle (the box is the ink, not the label)"
    cases.append(_film_case(name, note, p, canvas, DX16, dx=True))

    p = PENDLEBURY
    name = "dx-16bit-name-centre-size16-over-lungs"
    canvas = _film(name, DX16)
    canvas.block([p.plain_name], "centre-centre", DX16.white, size=16)
    note = "16 px name in the middle of the chest, over heart and spine, not in a corner"
    cases.append(_film_case(name, note, p, canvas, DX16, dx=True))

    p = LINDQVIST
    name = "cr-12bit-name-low-contrast-25pct"
    canvas = _film(name, CR12)
    under = float(np.median(canvas.frames[0][1150:1230, 600:980]))
    lines = [p.comma_name, p.dob("d.m.y")]
    canvas.block(lines, "bottom-right", under + 0.25 * CR12.high, size=24, margin=24)
    note = "name and dotted DOB only 25% of the range brighter than the abdomen under them"
    cases.append(_film_case(name, note, p, canvas, CR12))

    p = OKONJO_VANE
    name = "dx-16bit-name-rotated-90-left-edge"
    canvas = _film(name, DX16)
    canvas.text(f"{p.comma_name}  {p.patient_id}", 8, 300, DX16.white, size=24, rotate=90)
    note = "name and ID drawn apart, rotated 90 degrees (reads bottom to top), pasted on the edge"
    cases.append(_film_case(name, note, p, canvas, DX16, dx=True))

    name = "dx-16bit-dob-rotated-270-right-edge"
    canvas = _film(name, DX16)
    canvas.text(f"DOB {p.dob('d/m/y')}", 1000 - 8 - 16, 420, DX16.white, size=16, rotate=270)
    note = "16 px date of birth rotated 270 degrees (reads top to bottom) on the right edge"
    cases.append(_film_case(name, note, p, canvas, DX16, dx=True))

    p = MCALLISTAIR
    name = "cr-12bit-monochrome1-name-bottom-right"
    canvas = _film(name, MONO1)
    canvas.block([p.comma_name, p.patient_id], "bottom-right", MONO1.white, size=24, margin=20)
    note = "MONOCHROME1: text displayed white is stored as 0 over a high-valued background"
    cases.append(_film_case(name, note, p, canvas, MONO1))

    p = HAWKSMOOR
    name = "cr-12bit-burned-in-no-header-lies"
    canvas = _film(name, CR12)
    canvas.block([p.plain_name, f"DOB {p.dob('d-mon-y')}"], "top-left", CR12.white, size=24)
    note = "BurnedInAnnotation NO, yet name and DOB are drawn: the header lies"
    cases.append(_film_case(name, note, p, canvas, CR12, burned_in="NO"))

    p = FERNSBY
    name = "dx-16bit-no-burned-in-attribute-name-dates"
    canvas = _film(name, DX16)
    lines = [p.comma_name, p.dob("d-mon-y"), p.seen("d-mon-y")]
    canvas.block(lines, "top-right", DX16.white, size=16)
    note = "no BurnedInAnnotation at all; name, birth and study dates as 12-MAR-1958"
    cases.append(_film_case(name, note, p, canvas, DX16, dx=True, burned_in=None))

    p = TESTWOOD
    name = "cr-12bit-tiny-bitmap-caret-name-bottom-left"
    canvas = _film(name, CR12)
    line = f"{p.dicom_name} {p.patient_id}"
    canvas.block([line], "bottom-left", CR12.white, size=BITMAP, margin=6)
    note = "11 px bitmap font, DICOM caret spelling TESTWOOD^ALYSSA, on a 1000 px wide film"
    cases.append(_film_case(name, note, p, canvas, CR12))

    p = QUILLFEATHER
    name = "dx-16bit-full-size-name-id-dob-institution-size40"
    canvas = _film(name, DX16, 2500, 2000)
    lines = [p.comma_name, p.patient_id, f"DOB: {p.dob('d/m/y')}", INSTITUTION]
    canvas.block(lines, "top-left", DX16.white, size=40, margin=40)
    note = "full-size 2000x2500 film: four 40 px lines including the hospital's name"
    cases.append(_film_case(name, note, p, canvas, DX16, dx=True))

    p = PENDLEBURY
    name = "cr-12bit-full-size-tiny-bitmap-top-right"
    canvas = _film(name, CR12, 2500, 2000)
    lines = [p.dicom_name, p.patient_id, p.dob("ymd")]
    canvas.block(lines, "top-right", CR12.white, size=BITMAP, margin=10)
    note = "full-size 2000x2500 film with 11 px bitmap text: 0.4% of the height"
    cases.append(_film_case(name, note, p, canvas, CR12))

    p = LINDQVIST
    name = "cr-12bit-name-with-allowlisted-markers"
    canvas = _film(name, CR12)
    canvas.text("L", 880, 40, CR12.white, size=40, identifying=False)
    canvas.block(["ERECT", "PA"], "top-left", CR12.white, size=24, identifying=False, margin=30)
    canvas.block([p.comma_name], "bottom-left", CR12.white, size=16, margin=18)
    note = "allowlisted L, ERECT and PA markers beside a name that must still be masked"
    cases.append(_film_case(name, note, p, canvas, CR12))

    p = FERNSBY
    name = "dx-16bit-address-phone-block"
    canvas = _film(name, DX16)
    lines = [p.plain_name, *p.address, f"Tel {p.telephone}"]
    canvas.block(lines, "bottom-left", DX16.white, size=16)
    note = "a postal address over two lines and a telephone number (Ofcom drama range)"
    cases.append(_film_case(name, note, p, canvas, DX16, dx=True))

    p = HAWKSMOOR
    name = "cr-12bit-info-bar-aliased-white-on-grey"
    canvas = _film(name, CR12)
    canvas.frames[0][0:34, :] = CR12.level(0.3)
    x = 10
    fields = [p.dicom_name, p.patient_id, p.dob("d/m/y"), p.seen("d/m/y"), "110 kV 2.5 mAs"]
    for index, text in enumerate(fields):
        identifying = index < len(fields) - 1
        planted = canvas.text_at_origin(
            text, x, 9, CR12.white, size=16, identifying=identifying, aliased=True
        )
        x = planted.box[2] + 40
    note = "aliased (binary) 16 px fields in a grey bar across the top, exposure at its end"
    cases.append(_film_case(name, note, p, canvas, CR12))

    p = OKONJO_VANE
    name = "dx-16bit-dates-id-hugging-edges"
    canvas = _film(name, DX16)
    canvas.block([p.dob("y-m-d")], "top-left", DX16.white, size=16, margin=1)
    canvas.block([p.seen("d.m.y")], "bottom-right", DX16.white, size=16, margin=1)
    canvas.block([p.patient_id], "bottom-left", DX16.white, size=16, margin=0)
    note = "ISO and dotted dates and an ID within 1 px of the border, the ID touching it"
    cases.append(_film_case(name, note, p, canvas, DX16, dx=True))
    return cases


def _overlay_case() -> PixelCase:
    p = TESTWOOD
    name = "cr-12bit-embedded-overlay-bit12-name"
    canvas = _film(name, CR12)
    ink = _ink(p.comma_name, 24, aliased=True)[0] >= 0.5
    ys, xs = np.nonzero(ink)
    ink = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    x0, y0 = 40, 60
    plane = np.zeros((canvas.rows, canvas.cols), dtype=np.uint16)
    plane[y0 : y0 + ink.shape[0], x0 : x0 + ink.shape[1]] = ink.astype(np.uint16) << 12
    box = (x0, y0, x0 + ink.shape[1], y0 + ink.shape[0])
    canvas.planted.append(PlantedText(0, box, p.comma_name, True))
    note = "the name's ink lives in bit 12 of the pixel words only (an embedded overlay plane)"
    case = _film_case(name, note, p, canvas, CR12, overlay=plane)
    ds = case.dataset
    ds.add_new(0x60000010, "US", canvas.rows)  # OverlayRows
    ds.add_new(0x60000011, "US", canvas.cols)  # OverlayColumns
    ds.add_new(0x60000022, "LO", "ANNOTATION")  # OverlayDescription
    ds.add_new(0x60000040, "CS", "G")  # OverlayType
    ds.add_new(0x60000050, "SS", [1, 1])  # OverlayOrigin
    ds.add_new(0x60000100, "US", 16)  # OverlayBitsAllocated
    ds.add_new(0x60000102, "US", 12)  # OverlayBitPosition
    return case


# ---------------------------------------------------------------------------------------------
# CT and MR


_CT_TEXT = 4095.0  # stored: 3071 HU, white in any window


def _ct_canvas(name: str, **kwargs: Any) -> _Canvas:
    return _Canvas([_ct_axial(_rng(name), **kwargs) + 1024.0])


def _ct_case(name: str, note: str, person: Person, canvas: _Canvas, **kwargs: Any) -> PixelCase:
    kwargs.setdefault("image_type", (*ORIGINAL, "AXIAL"))
    kwargs.setdefault("description", "LUNG 1.25 B60")
    return _case(
        name, note, person, canvas, CT16, modality="CT", sop_class=CTImageStorage, **kwargs
    )


def _ct_and_mr() -> list[PixelCase]:
    cases = []
    p = TESTWOOD
    name = "ct-axial-name-id-dob-top-left-size16"
    canvas = _ct_canvas(name)
    canvas.block(
        [p.comma_name, p.patient_id, f"DOB: {p.dob('d/m/y')}"],
        "top-left",
        _CT_TEXT,
        size=16,
        margin=8,
    )
    canvas.block(
        ["120 kV  220 mA", "W 1600 L -600"],
        "bottom-left",
        _CT_TEXT,
        size=BITMAP,
        identifying=False,
        margin=6,
    )
    cases.append(
        _ct_case(
            name,
            "signed 512x512 slice: 16 px name, ID and DOB; kV/mA and window in bitmap font",
            p,
            canvas,
        )
    )

    p = QUILLFEATHER
    name = "ct-axial-id-dates-bottom-right-bitmap"
    canvas = _ct_canvas(name)
    canvas.block(
        [p.patient_id, p.dob("d/m/y"), p.seen("d/m/y")],
        "bottom-right",
        _CT_TEXT,
        size=BITMAP,
        margin=6,
    )
    cases.append(_ct_case(name, "11 px bitmap ID, birth and study dates by the couch", p, canvas))

    p = PENDLEBURY
    name = "ct-axial-name-over-body-mid-grey"
    canvas = _ct_canvas(name)
    canvas.text(p.plain_name, 150, 200, 1024.0 + 200.0, size=16)
    cases.append(
        _ct_case(
            name,
            "a 200 HU name across lung and mediastinum: grey text inside the body",
            p,
            canvas,
        )
    )

    p = LINDQVIST
    name = "ct-localiser-name-id-date"
    attenuation = _chest(_rng(name), 640, 512)
    scout = _Canvas([CR12.level(np.clip(0.1 + 0.75 * attenuation, 0.0, 1.0))])
    scout.block(
        [p.dicom_name, p.patient_id, p.seen("d-mon-y")], "top-left", CR12.white, size=16, margin=8
    )
    scout.text("AP", 470, 600, CR12.white, size=16, identifying=False)
    cases.append(
        _case(
            name,
            "CT topogram (LOCALIZER), unsigned 12-bit, 640x512: name, ID, study date; AP marker",
            p,
            scout,
            CR12,
            modality="CT",
            sop_class=CTImageStorage,
            image_type=(*ORIGINAL, "LOCALIZER"),
            description="TOPOGRAM 0.6 T20f",
            extra={"PixelSpacing": ["0.8", "0.8"], "WindowCenter": "2048", "WindowWidth": "4096"},
        )
    )

    p = OKONJO_VANE
    name = "ct-key-image-derived-secondary-name-date"
    canvas = _ct_canvas(name)
    canvas.block([p.comma_name, p.seen("d mon y")], "top-right", _CT_TEXT, size=16, margin=8)
    canvas.text("KEY IMAGE", 10, 488, _CT_TEXT, size=BITMAP, identifying=False)
    arrow = canvas.frames[0]
    for k in range(30):
        arrow[300 + k, 330 + k : 333 + k] = _CT_TEXT
    arrow[300:304, 330:345] = _CT_TEXT
    arrow[300:315, 330:334] = _CT_TEXT
    cases.append(
        _ct_case(
            name,
            "PACS key image (DERIVED SECONDARY AXIAL) with name, study date and an arrow",
            p,
            canvas,
            image_type=("DERIVED", "SECONDARY", "AXIAL"),
            description="KEY IMAGES",
        )
    )

    p = MCALLISTAIR
    name = "ct-clean-axial-table-line"
    canvas = _ct_canvas(name, table=True)
    cases.append(
        _ct_case(
            name,
            "clean: a bright curved couch line under the body, nothing drawn",
            p,
            canvas,
        )
    )

    name = "ct-clean-axial-many-small-vessels"
    canvas = _ct_canvas(name, table=False, vessels=400)
    cases.append(
        _ct_case(
            name,
            "clean: hundreds of small bright vessel dots in the lungs, like specks of print",
            p,
            canvas,
        )
    )

    p = HAWKSMOOR
    name = "ct-clean-reformat-coronal-derived"
    canvas = _Canvas([_ct_coronal(_rng(name), 512, 512) + 1024.0])
    cases.append(
        _ct_case(
            name,
            "clean: coronal reformat (DERIVED SECONDARY CORONAL), spine levels like a ladder",
            p,
            canvas,
            image_type=("DERIVED", "SECONDARY", "CORONAL"),
            description="COR MPR 3.0",
        )
    )

    mr = _Layout(16, 12)
    name = "mr-clean-reformat-sagittal-derived"
    canvas = _Canvas([_mr_sagittal(_rng(name))])
    cases.append(
        _case(
            name,
            "clean: sagittal MR reformat (DERIVED SECONDARY SAGITTAL), stacked vertebrae",
            p,
            canvas,
            mr,
            modality="MR",
            sop_class=MRImageStorage,
            image_type=("DERIVED", "SECONDARY", "SAGITTAL"),
            description="SAG MPR T2",
        )
    )

    p = FERNSBY
    name = "mr-clean-axial-256-noise-background"
    canvas = _Canvas([_mr_axial(_rng(name))])
    cases.append(
        _case(
            name,
            "clean: 256x256 axial MR with a Rician noise background, no text",
            p,
            canvas,
            mr,
            modality="MR",
            sop_class=MRImageStorage,
            image_type=(*ORIGINAL, "M", "ND"),
            description="t2_haste_tra",
        )
    )

    p = HAWKSMOOR
    name = "mr-axial-256-name-bitmap-bottom-left"
    canvas = _Canvas([_mr_axial(_rng(name))])
    canvas.block([p.dicom_name, p.dob("d.m.y")], "bottom-left", 4095.0, size=BITMAP, margin=3)
    cases.append(
        _case(
            name,
            "11 px bitmap name and dotted DOB on a 256x256 MR slice: text is 8% of the width high",
            p,
            canvas,
            mr,
            modality="MR",
            sop_class=MRImageStorage,
            image_type=(*ORIGINAL, "M", "ND"),
            description="t2_haste_tra",
        )
    )
    return cases


# ---------------------------------------------------------------------------------------------
# Ultrasound


_US_TEXT = (235.0, 235.0, 235.0)
US: dict[str, Any] = {"modality": "US", "sop_class": UltrasoundImageStorage}
_US_TYPE = ("ORIGINAL", "PRIMARY", "ABDOMINAL")


def _us_canvas(name: str, rows: int, cols: int, frames: int = 1) -> _Canvas:
    rng = _rng(name)
    images = [_us_frame(rng, rows, cols, phase=index / 2) for index in range(frames)]
    for image in images:
        _grey_bar(image, cols - 14, rows // 4, rows // 2)
    return _Canvas(images)


def _us_case(name: str, note: str, person: Person, canvas: _Canvas, layout: _Layout) -> PixelCase:
    """An abdominal ultrasound image."""
    return _case(
        name, note, person, canvas, layout, **US, image_type=_US_TYPE, description="ABDOMEN"
    )


def _ultrasound() -> list[PixelCase]:
    cases = []
    settings = "MI 0.9  TIS 0.4  12 cm  FR 30Hz"
    p = TESTWOOD
    name = "us-rgb-640x480-name-date-top-bitmap"
    canvas = _us_canvas(name, 480, 640)
    canvas.block(
        [f"{p.dicom_name}  {p.patient_id}", p.seen("d/m/y")],
        "top-left",
        _US_TEXT,
        size=BITMAP,
        margin=6,
    )
    canvas.block([settings], "top-right", _US_TEXT, size=BITMAP, margin=6, identifying=False)
    cases.append(
        _us_case(
            name,
            "RGB 640x480: bitmap name, ID and study date top-left; machine settings top-right",
            p,
            canvas,
            RGB8,
        )
    )

    p = FERNSBY
    name = "us-rgb-256x256-name-date-top-bitmap"
    canvas = _us_canvas(name, 256, 256)
    canvas.block(
        [p.comma_name, p.dob("d/m/y")], "top-left", _US_TEXT, size=BITMAP, margin=3, leading=1.15
    )
    cases.append(
        _us_case(
            name,
            "RGB 256x256: bitmap name and DOB crammed at the top with 2 px line gaps",
            p,
            canvas,
            RGB8,
        )
    )

    p = MCALLISTAIR
    name = "us-rgb-640x480-clean-machine-settings-only"
    canvas = _us_canvas(name, 480, 640)
    canvas.block([settings], "top-left", _US_TEXT, size=BITMAP, margin=6, identifying=False)
    cases.append(
        _us_case(
            name,
            "clean: only machine settings, where names usually go; grey bar and speckle",
            p,
            canvas,
            RGB8,
        )
    )

    p = QUILLFEATHER
    planar = _Layout(8, 8, photometric="RGB", planar=1)
    name = "us-rgb-planar-configuration-1-name-id"
    canvas = _us_canvas(name, 480, 640)
    canvas.block([p.comma_name, p.patient_id], "top-left", _US_TEXT, size=16, margin=8)
    cases.append(
        _us_case(
            name,
            "RGB stored colour-by-plane (PlanarConfiguration 1): all R, then all G, then all B",
            p,
            canvas,
            planar,
        )
    )

    p = PENDLEBURY
    name = "us-rgb-blue-name-low-luminance"
    canvas = _us_canvas(name, 480, 640)
    canvas.block(
        [p.plain_name, p.dob("d-mon-y")], "top-left", (20.0, 40.0, 255.0), size=16, margin=8
    )
    cases.append(
        _us_case(
            name,
            "saturated blue text on black: luminance about 45 of 255, bright only in the B plane",
            p,
            canvas,
            RGB8,
        )
    )

    p = LINDQVIST
    name = "us-rgb-256x256-clean-colour-doppler"
    canvas = _us_canvas(name, 256, 256)
    frame = canvas.frames[0]
    y, x = _grid(256, 256)
    flow = _soft(_ellipse(y, x, 0.5, 0.5, 0.05, 0.2), 0.5)
    red = flow * (x < 0.5)
    blue = flow * (x >= 0.5)
    frame[..., 0] = np.where(red > 0.05, 60 + 195 * red, frame[..., 0])
    frame[..., 1] = np.where(flow > 0.05, frame[..., 1] * 0.3, frame[..., 1])
    frame[..., 2] = np.where(blue > 0.05, 60 + 195 * blue, frame[..., 2])
    frame[20:100, 4:10, 0] = np.linspace(255, 0, 80)[:, None]
    frame[100:180, 4:10, 2] = np.linspace(0, 255, 80)[:, None]
    cases.append(
        _us_case(
            name, "clean: colour Doppler box and a red/blue colour bar, no text", p, canvas, RGB8
        )
    )
    return cases


# ---------------------------------------------------------------------------------------------
# Screen captures


_SC = SecondaryCaptureImageStorage
_SCREEN = ("DERIVED", "SECONDARY", "SCREEN SAVE")


def _screen_captures() -> list[PixelCase]:
    cases = []
    p = TESTWOOD
    name = "sc-ct-dose-report-grey-name-id-dob"
    canvas = _Canvas([np.full((512, 640), 235.0)])
    frame = canvas.frames[0]
    frame[0:36, :] = 60.0
    canvas.text_at_origin("Dose Report", 12, 8, 250.0, size=24, identifying=False)
    canvas.field("Patient Name:", p.comma_name, 16, 56, 10.0, size=16)
    canvas.field("Patient ID:", p.patient_id, 16, 82, 10.0, size=16)
    canvas.field("DOB:", p.dob("d/m/y"), 16, 108, 10.0, size=16)
    canvas.field("Exam Date:", p.seen("d/m/y"), 16, 134, 10.0, size=16)
    canvas.field("Accession:", "ACC" + p.patient_id[-6:], 16, 160, 10.0, size=16)
    rows = (
        ("Series", "Type", "Scan Range (mm)", "CTDIvol", "DLP"),
        ("1", "Scout", "-", "-", "-"),
        ("2", "Helical", "I12.5-I387.5", "7.42", "312.6"),
    )
    columns = (16, 90, 190, 380, 480)
    for index, cells in enumerate(rows):
        top = 210 + index * 30
        frame[top - 6, 10:600] = 120.0
        for left, cell in zip(columns, cells, strict=True):
            if cell != "-":
                canvas.text_at_origin(cell, left, top, 10.0, size=16, identifying=False)
    canvas.text_at_origin("Total DLP: 318.4 mGy-cm", 16, 320, 10.0, size=16, identifying=False)
    cases.append(
        _screen_case(
            name,
            "CT dose screen (SC, Modality CT), black on white: labelled name, ID, DOB, accession",
            p,
            canvas,
            GREY8,
            "CT",
            "Dose Report",
        )
    )

    p = MCALLISTAIR
    name = "sc-ct-dose-report-rgb-white-on-navy"
    canvas = _Canvas([np.broadcast_to(np.array([20.0, 30.0, 80.0]), (480, 640, 3)).copy()])
    white = (245.0, 245.0, 245.0)
    canvas.text_at_origin(
        "Patient Protocol", 12, 10, (255.0, 200.0, 60.0), size=24, identifying=False
    )
    canvas.field("Name", p.dicom_name, 12, 52, white, size=16)
    canvas.field("ID", p.patient_id, 12, 76, white, size=16)
    canvas.field("Birth date", p.dob("d mon y"), 12, 100, white, size=16)
    canvas.text_at_origin(
        "Total mAs 2405   Total DLP 402 mGy*cm", 12, 140, white, size=16, identifying=False
    )
    canvas.text_at_origin(
        "CTDIvol 8.12 mGy   Phantom 32 cm", 12, 164, white, size=16, identifying=False
    )
    cases.append(
        _screen_case(
            name,
            "RGB patient-protocol screen: white and amber text on navy blue",
            p,
            canvas,
            RGB8,
            "CT",
            "Dose Report",
        )
    )

    p = LINDQVIST
    name = "sc-ot-screen-capture-grey-tiny-bitmap"
    canvas = _Canvas([np.full((512, 640), 96.0)])
    frame = canvas.frames[0]
    frame[0:22, :] = 180.0
    for k in range(8):
        frame[4:18, 6 + k * 22 : 20 + k * 22] = 60.0 + 15 * k
    slice_hu = _ct_axial(_rng(name), 384)
    frame[40:424, 128:512] = np.clip((slice_hu + 1350.0) / 1600.0 * 255.0, 0.0, 255.0)
    for index, text in enumerate((p.dicom_name, p.patient_id, INSTITUTION)):
        canvas.text_at_origin(text, 132, 44 + index * 13, 250.0, size=BITMAP)
    canvas.text_at_origin("Se: 3  Im: 45/212", 132, 404, 250.0, size=BITMAP, identifying=False)
    canvas.text_at_origin("W 1600 L -600", 420, 404, 250.0, size=BITMAP, identifying=False)
    cases.append(
        _screen_case(
            name,
            "workstation grab (OT): bitmap name, ID, hospital over a CT pane, a toolbar of icons",
            p,
            canvas,
            GREY8,
            "OT",
            "Screen Capture",
        )
    )

    p = OKONJO_VANE
    name = "sc-ot-screen-capture-rgb-title-bar"
    canvas = _Canvas([np.broadcast_to(np.array([200.0, 200.0, 205.0]), (480, 640, 3)).copy()])
    frame = canvas.frames[0]
    frame[0:26, :] = (30.0, 60.0, 150.0)
    frame[40:460, 12:452] = _us_frame(_rng(name), 420, 440)
    title = f"{p.plain_name} - {p.patient_id} - CT CHEST"
    canvas.text_at_origin(title, 8, 5, (255.0, 255.0, 255.0), size=16)
    canvas.field("DOB", p.dob("d/m/y"), 466, 50, (0.0, 0.0, 0.0), size=BITMAP)
    canvas.field("Sex", p.sex, 466, 66, (0.0, 0.0, 0.0), size=BITMAP, identifying=False)
    canvas.text_at_origin("Zoom 100%", 466, 82, (0.0, 0.0, 0.0), size=BITMAP, identifying=False)
    cases.append(
        _screen_case(
            name,
            "RGB desktop grab: name and ID in a blue title bar, bitmap DOB in a side panel",
            p,
            canvas,
            RGB8,
            "OT",
            "Screen Capture",
        )
    )
    return cases


# ---------------------------------------------------------------------------------------------
# Multi-frame


def _angiogram(rng: np.random.Generator, frames: int, size: int) -> list[np.ndarray]:
    """Frames of a contrast run: a vessel tree filling, dark on a grey background (0..255)."""
    background = 150.0 + 18.0 * _smooth(rng, size, size, 32)
    tree = []
    for _ in range(12):
        point = (size * 0.5 + rng.normal(0, 10), 10.0)
        angle = rng.uniform(-0.6, 0.6)
        for depth in range(8):
            angle += rng.normal(0.0, 0.3)
            after = (point[0] + 22 * math.sin(angle), point[1] + 22 * math.cos(angle))
            tree.append((depth, point, after))
            point = after
    images = []
    for index in range(frames):
        layer = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(layer)
        for depth, start, end in tree:
            if depth <= 2 * index + 1:
                draw.line([start, end], fill=255, width=max(1, 5 - depth // 2))
        opacity = np.asarray(layer.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float64) / 255
        images.append(background * (1 - 0.6 * opacity) + rng.normal(0.0, 4.0, (size, size)))
    return images


def _multiframe() -> list[PixelCase]:
    cases = []
    p = HAWKSMOOR
    name = "xa-multiframe-5-text-first-and-last-frame"
    canvas = _Canvas(_angiogram(_rng(name), 5, 256))
    canvas.block([p.comma_name], "top-left", 255.0, size=BITMAP, margin=4, frame=0)
    canvas.block(
        [p.patient_id, p.seen("d.m.y")], "bottom-right", 255.0, size=BITMAP, margin=4, frame=4
    )
    cases.append(
        _case(
            name,
            "8-bit XA run of 5: name on frame 0, ID and study date on frame 4, 1-3 blank",
            p,
            canvas,
            GREY8,
            modality="XA",
            sop_class=XRayAngiographicImageStorage,
            image_type=("ORIGINAL", "PRIMARY", "SINGLE PLANE"),
            description="LCA RAO 30",
            extra={"FrameTime": "66.7", "CineRate": 15, "FrameIncrementPointer": 0x00181063},
        )
    )

    p = FERNSBY
    name = "us-multiframe-rgb-3-text-first-and-last-frame"
    canvas = _us_canvas(name, 256, 256, frames=3)
    canvas.block([p.plain_name], "top-left", _US_TEXT, size=BITMAP, margin=3, frame=0)
    canvas.block([p.dob("d-mon-y")], "top-right", _US_TEXT, size=BITMAP, margin=3, frame=2)
    cases.append(
        _case(
            name,
            "RGB cine of 3: name on frame 0, date of birth on frame 2, frame 1 blank",
            p,
            canvas,
            RGB8,
            modality="US",
            sop_class=UltrasoundMultiFrameImageStorage,
            image_type=_US_TYPE,
            description="ABDOMEN CINE",
            extra={"FrameTime": "33.3", "CineRate": 30, "FrameIncrementPointer": 0x00181063},
        )
    )
    return cases


# ---------------------------------------------------------------------------------------------
# Clean but busy or suspicious


def _clean_suspicious() -> list[PixelCase]:
    cases = []
    p = PENDLEBURY
    name = "cr-clean-noise-only"
    canvas = _Canvas([CR12.level(np.clip(_noise_film(_rng(name), 1250, 1000), 0.0, 1.0))])
    note = "clean: quantum mottle and slow density drift only"
    cases.append(_film_case(name, note, p, canvas, CR12))

    p = QUILLFEATHER
    name = "dx-clean-full-size-chest-ribs-shoulders"
    canvas = _film(name, DX16, 2500, 2000)
    note = "clean: full-size 2000x2500 chest, rib arcs, clavicles, humeral-head rims, vessels"
    cases.append(_film_case(name, note, p, canvas, DX16, dx=True))

    p = MCALLISTAIR
    name = "cr-clean-chest-sternal-wires-ecg-leads"
    canvas = _film(name, CR12, wires=True)
    note = "clean: sternotomy wire loops, ECG electrodes and lead wires: shapes, no letters"
    cases.append(_film_case(name, note, p, canvas, CR12))

    p = TESTWOOD
    name = "cr-clean-markers-r-portable-ap"
    canvas = _film(name, CR12)
    x0, y0, x1, y1 = canvas.text("R", 60, 50, CR12.white, size=40, identifying=False).box
    frame = canvas.frames[0]
    frame[y0 - 10 : y1 + 10, x0 - 10 : x1 + 10] = np.where(
        np.pad(np.ones((y1 - y0 + 14, x1 - x0 + 14), dtype=bool), 3, constant_values=False),
        frame[y0 - 10 : y1 + 10, x0 - 10 : x1 + 10],
        CR12.white,
    )
    canvas.block(["PORTABLE AP"], "top-right", CR12.white, size=24, identifying=False, margin=40)
    note = "clean: a lead R marker in a 3 px square frame and PORTABLE AP, both allowlisted"
    cases.append(_film_case(name, note, p, canvas, CR12, description="CHEST AP PORTABLE"))

    p = OKONJO_VANE
    name = "dx-clean-markers-l-supine-rotated"
    canvas = _film(name, DX16)
    canvas.text("L", 920, 600, DX16.white, size=40, rotate=270, identifying=False)
    canvas.text("SUPINE", 12, 500, DX16.white, size=24, rotate=90, identifying=False)
    note = "clean: allowlisted L and SUPINE drawn rotated on the film's edges"
    cases.append(_film_case(name, note, p, canvas, DX16, dx=True, description="CHEST AP SUPINE"))

    p = HAWKSMOOR
    name = "cr-clean-monochrome1-erect-r"
    canvas = _film(name, MONO1)
    canvas.block(["R", "ERECT"], "top-right", MONO1.white, size=24, identifying=False, margin=30)
    note = "clean MONOCHROME1 chest: allowlisted R and ERECT stored as low values"
    cases.append(_film_case(name, note, p, canvas, MONO1))

    p = LINDQVIST
    name = "dx-clean-ruler-0-5-10-cm"
    canvas = _film(name, DX16)
    frame = canvas.frames[0]
    per_cm = 1000 / 35  # 0.35 mm pixels
    left, top = 120, 1250 - 130
    frame[top : top + 70, left - 20 : left + round(10 * per_cm) + 60] = DX16.level(0.35)
    for half_cm in range(21):
        x = left + round(half_cm * per_cm / 2)
        length = 34 if half_cm % 10 == 0 else 22 if half_cm % 2 == 0 else 12
        frame[top + 70 - length : top + 70, x : x + 3] = DX16.white
    for number, label in ((0, "0"), (5, "5"), (10, "10 cm")):
        digits = _ink(label.split()[0], 16)[0].shape[1]  # centre the number on its tick
        x = left + round(number * per_cm) + 1 - digits // 2
        canvas.text(label, x, top + 8, DX16.white, size=16, identifying=False)
    note = "clean: a lead ruler with 5 mm ticks and the numbers 0, 5 and 10 cm (a scale)"
    cases.append(_film_case(name, note, p, canvas, DX16, dx=True))

    p = FERNSBY
    name = "xc-clean-colour-photograph"
    canvas = _Canvas([_photo(_rng(name), 480, 640)])
    note = "clean: photograph-like RGB (Modality XC), smooth gradients and skin-coloured blobs"
    cases.append(
        _case(
            name,
            note,
            p,
            canvas,
            RGB8,
            modality="XC",
            sop_class=VLPhotographicImageStorage,
            image_type=("ORIGINAL", "PRIMARY"),
            description="WOUND PHOTO",
        )
    )

    p = PENDLEBURY
    name = "ot-clean-smpte-test-pattern"
    canvas = _Canvas([CR12.level(_test_pattern(512))])
    note = "clean: SMPTE-like pattern, grey steps, line pairs, 5%/95% patches, no letters"
    cases.append(
        _case(
            name,
            note,
            p,
            canvas,
            CR12,
            modality="OT",
            sop_class=_SC,
            image_type=("DERIVED", "SECONDARY"),
            description="QC TEST PATTERN",
            extra={"ConversionType": "SYN"},
        )
    )
    return cases


# ---------------------------------------------------------------------------------------------
# The corpus


def pixel_cases() -> list[PixelCase]:
    """Every case, in a fixed order."""
    cases = _radiographs()
    cases.append(_overlay_case())
    cases += _ct_and_mr()
    cases += _ultrasound()
    cases += _screen_captures()
    cases += _multiframe()
    cases += _clean_suspicious()
    names = [case.name for case in cases]
    if len(set(names)) != len(names):
        raise ValueError("case names must be unique")
    for case in cases:
        if case.clean == any(text.identifying for text in case.planted):
            raise ValueError(f"{case.name}: clean disagrees with what is planted")
    return cases


def write_case(case: PixelCase, folder: Path) -> Path:
    """Write `case` to `<folder>/<name>.dcm`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{case.name}.dcm"
    case.dataset.save_as(path, enforce_file_format=True)
    return path


def frame_pixels(dataset: Dataset, frame: int) -> np.ndarray:
    """One frame's stored pixel words, rows x cols (x samples, colour last whatever the planar
    configuration), read straight from native PixelData. Bits above HighBit are kept, so an
    embedded overlay plane stays visible; mask with (1 << BitsStored) - 1 to drop it."""
    syntax = dataset.file_meta.TransferSyntaxUID
    if syntax.is_compressed:
        raise ValueError(f"compressed pixel data ({syntax.name}) is not read here")
    rows, cols = int(dataset.Rows), int(dataset.Columns)
    samples = int(dataset.SamplesPerPixel)
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if not 0 <= frame < frames:
        raise IndexError(f"frame {frame} of {frames}")
    bits = int(dataset.BitsAllocated)
    if bits not in (8, 16, 32):
        raise ValueError(f"BitsAllocated {bits} is not read here")
    kind = "i" if int(dataset.PixelRepresentation) == 1 else "u"
    dtype = np.dtype(f"<{kind}{bits // 8}")
    count = rows * cols * samples
    data = np.frombuffer(
        dataset.PixelData, dtype=dtype, count=count, offset=frame * count * dtype.itemsize
    )
    if samples == 1:
        return data.reshape(rows, cols).copy()
    if int(dataset.get("PlanarConfiguration", 0)) == 1:
        return data.reshape(samples, rows, cols).transpose(1, 2, 0).copy()
    return data.reshape(rows, cols, samples).copy()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.pixel_corpus FOLDER", file=sys.stderr)
        return 2
    folder = Path(argv[0])
    started = time.perf_counter()
    cases = pixel_cases()
    built = time.perf_counter() - started
    for case in cases:
        path = write_case(case, folder)
        ds = case.dataset
        identifying = sum(text.identifying for text in case.planted)
        shape = f"{ds.Columns}x{ds.Rows}x{ds.get('NumberOfFrames', 1)}"
        verdict = "clean" if case.clean else "IDENT"
        print(
            f"{verdict} {case.name:<52} {ds.Modality:<2} {shape:<13} "
            f"{identifying}/{len(case.planted)} identifying  {path.stat().st_size:>9} B"
        )
    clean = sum(case.clean for case in cases)
    print(
        f"{len(cases)} cases ({clean} clean, {len(cases) - clean} identifying) "
        f"built in {built:.1f} s, written to {folder}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
