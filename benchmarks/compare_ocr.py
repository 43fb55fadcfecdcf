"""Compare offline CPU OCR engines at finding text burned into medical image pixels.

Builds a deterministic synthetic corpus in memory (numpy + Pillow): 2000x2500 radiographs,
512x512 CT slices, 256x256 ultrasound frames and 1024x768 RGB screen captures carrying fake
identifying lines (names, hospital numbers, NHS test-range numbers, dates) at several sizes,
positions, contrasts and rotations, plus clean busy images with no text at all. Then, for each
engine that is installed:

- **recall**: a planted line is found if a detected box overlaps it with IoU > 0.1 or covers
  more than half of it;
- **recognised** (``recog``): the uppercased alphanumerics of the text of the boxes on the line
  contain the planted value's; ``rec^~`` is the same but lets a DICOM "^" be read as any one
  character (both engines tend to read it as "A");
- **false positives**: boxes detected on the clean images (``fp``), and those among them whose
  text has at least three alphanumerics (``fp3``);
- mean seconds per image, per kind (timings on a shared machine vary: compare within a run).

Engines: RapidOCR (``rapidocr-onnxruntime``, models inside the wheel), also on the 256x256
frames upscaled x3; Tesseract through ``pytesseract`` (needs the ``tesseract`` binary), with
``--psm 11`` (sparse text) and the default page segmentation, and psm 11 on the frames upscaled
x3. An engine that is not installed is skipped with one line.

Then, each in a fresh child process: whether RapidOCR runs with every socket refused (under
``unshare -n`` when allowed, and with an audit hook refusing any socket use), and the peak memory
of loading RapidOCR and reading one 2000x2500 image, with onnxruntime's CPU memory arena as
shipped and forced on.

    python benchmarks/compare_ocr.py [--no-children]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SEED = 20240117
LOW_CONTRAST = 64  # ~25 % of the 8-bit range

# (prefix, value): the value is what must be recognised
VALUES: list[tuple[str, str]] = [
    ("", "PATIENT^TEST"),
    ("ID ", "RX1 0048213"),
    ("NHS ", "999 123 4567"),
    ("DOB ", "12/03/1958"),
    ("", "DOE JANE"),
    ("", "12-Mar-1958"),
    ("MRN: ", "H4471902"),
    ("", "SMITH^JOHN^A"),
    ("NHS No ", "999 765 4321"),
    ("Study ", "03.11.2021"),
    ("", "RX1 0071154"),
    ("Name: ", "TEST^PATIENT"),
]

SIZES = ["bmp11", "16", "24", "40"]


# --------------------------------------------------------------------------- corpus


@dataclass
class Line:
    text: str
    value: str
    needle: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the ink (x1, y1 exclusive)
    size: str
    contrast: str
    rotation: int


@dataclass
class Sample:
    kind: str
    name: str
    pixels: np.ndarray  # uint8, H x W (grey) or H x W x 3 (RGB)
    lines: list[Line] = field(default_factory=list)


def norm(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def font_for(size: str) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    if size == "bmp11":
        return ImageFont.load_default_imagefont()  # the old 11 px bitmap font
    return ImageFont.load_default(size=int(size))


def smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Zero-mean, unit-ish, spatially smooth noise (bicubic upsampling of coarse noise)."""
    small = rng.normal(size=(max(2, h // cell), max(2, w // cell))).astype(np.float32)
    return np.asarray(Image.fromarray(small, mode="F").resize((w, h), Image.Resampling.BICUBIC))


def to_u8(a: np.ndarray) -> np.ndarray:
    return np.clip(a, 0, 255).astype(np.uint8)


def make_radiograph(rng: np.random.Generator, h: int = 2500, w: int = 2000) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 35 + 110 * (yy / h) + 35 * (xx / w)
    cy, cx, r = h * 0.42, w * 0.55, min(h, w) * 0.18
    img += 115 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
    img += 14 * smooth_noise(rng, h, w, 60) + rng.normal(0, 6, (h, w)).astype(np.float32)
    return to_u8(img)


def make_ct(rng: np.random.Generator, n: int = 512, lungs: bool = False) -> np.ndarray:
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    img = np.full((n, n), 8.0, np.float32)
    body = ((yy - n / 2) / (n * 0.36)) ** 2 + ((xx - n / 2) / (n * 0.42)) ** 2 < 1
    img[body] = 110
    if lungs:
        for sx in (-1, 1):
            lung = ((yy - n * 0.48) / (n * 0.24)) ** 2 + (
                (xx - n / 2 - sx * n * 0.19) / (n * 0.13)
            ) ** 2 < 1
            vessels = smooth_noise(rng, n, n, 6) + 0.5 * smooth_noise(rng, n, n, 3)
            img[lung] = 25 + 90 * (vessels[lung] > 1.1) + 10 * vessels[lung]
    img += rng.normal(0, 9, (n, n)).astype(np.float32)
    return to_u8(img)


def make_ultrasound(rng: np.random.Generator, n: int = 256) -> np.ndarray:
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    ay, ax = 12.0, n / 2
    rad = np.hypot(yy - ay, xx - ax)
    ang = np.degrees(np.arctan2(xx - ax, yy - ay))
    cone = (np.abs(ang) < 38) & (rad > 25) & (rad < n - 20)
    speckle = rng.rayleigh(1.0, (n, n)).astype(np.float32)
    tissue = 70 + 35 * smooth_noise(rng, n, n, 20)
    img = np.where(cone, tissue * speckle * np.exp(-rad / (n * 1.6)), 0)
    out = Image.fromarray(to_u8(img)).filter(ImageFilter.GaussianBlur(0.6))
    return np.asarray(out)


def make_screen(rng: np.random.Generator, w: int = 1024, h: int = 768) -> np.ndarray:
    """A dose-report-like screen capture with harmless text (not ground truth)."""
    img = Image.new("RGB", (w, h), (238, 240, 242))
    d = ImageDraw.Draw(img)
    d.rectangle((370, 262, 990, 306), fill=(40, 70, 120))
    d.text((386, 270), "Dose Report", fill=(255, 255, 255), font=font_for("24"))
    f16 = font_for("16")
    rows = ["Series", "Scan", "kV", "mAs", "CTDIvol", "DLP", "Phantom"]
    for i, label in enumerate(rows):
        y = 330 + i * 34
        d.line((380, y - 6, 980, y - 6), fill=(190, 190, 190))
        d.text((390, y), label, fill=(30, 30, 30), font=f16)
        d.text(
            (600, y), f"{rng.integers(1, 500)}.{rng.integers(0, 9)}", fill=(30, 30, 30), font=f16
        )
    return np.asarray(img)


def render_mask(text: str, size: str, rotation: int) -> Image.Image:
    font = font_for(size)
    x0, y0, x1, y1 = font.getbbox(text)
    mask = Image.new("L", (x1 - x0 + 8, y1 - y0 + 8), 0)
    ImageDraw.Draw(mask).text((4 - x0, 4 - y0), text, fill=255, font=font)
    bbox = mask.getbbox()
    assert bbox is not None
    mask = mask.crop(bbox)
    if rotation == 90:
        mask = mask.transpose(Image.Transpose.ROTATE_90)
    elif rotation == 270:
        mask = mask.transpose(Image.Transpose.ROTATE_270)
    return mask


def stamp(pixels: np.ndarray, mask: Image.Image, x: int, y: int, contrast: str) -> None:
    """Draw the text mask at (x, y), in place: full contrast against the local background, or
    25 % of the range away from it."""
    m = np.asarray(mask, np.float32) / 255.0
    h, w = m.shape
    region = pixels[y : y + h, x : x + w]
    grey = region.mean(axis=2) if region.ndim == 3 else region
    bg = float(np.median(grey))
    if contrast == "low":
        value = bg + LOW_CONTRAST if bg < 128 else bg - LOW_CONTRAST
    else:
        value = 255.0 if bg < 128 else 0.0
    a = m[..., None] if region.ndim == 3 else m
    region[...] = to_u8(region * (1 - a) + value * a)


class Layout:
    """Places lines at anchors of an image, stacking lines that share an anchor."""

    def __init__(self, w: int, h: int, margin: int) -> None:
        self.w, self.h, self.margin = w, h, margin
        self.cursor: dict[str, int] = {}

    def place(self, anchor: str, mw: int, mh: int) -> tuple[int, int]:
        gap = max(4, mh // 2) if anchor not in ("left-mid", "right-mid") else max(4, mw // 2)
        used = self.cursor.get(anchor, 0)
        m = self.margin
        if anchor in ("left-mid", "right-mid"):
            x = m + used if anchor == "left-mid" else self.w - m - mw - used
            y = (self.h - mh) // 2
            self.cursor[anchor] = used + mw + gap
            return x, y
        if anchor.startswith("top"):
            y = m + used
        elif anchor.startswith("bottom"):
            y = self.h - m - mh - used
        else:  # centre: stack downwards from the middle
            y = self.h // 2 + used
        self.cursor[anchor] = used + mh + gap
        if anchor.endswith("left"):
            x = m
        elif anchor.endswith("right"):
            x = self.w - m - mw
        else:
            x = (self.w - mw) // 2
        return x, y


# Per kind: image maker, number of images with text, margin, and one list of line slots per
# image: (anchor, size, contrast, rotation).
Slot = tuple[str, str, str, int]

RADIOGRAPH_SLOTS: list[list[Slot]] = [
    [
        ("top-left", "40", "high", 0),
        ("top-left", "24", "high", 0),
        ("top-right", "16", "high", 0),
        ("bottom-left", "bmp11", "high", 0),
        ("bottom-right", "24", "low", 0),
        ("centre", "40", "high", 0),
        ("left-mid", "24", "high", 90),
        ("right-mid", "40", "low", 270),
    ],
    [
        ("top-left", "16", "low", 0),
        ("top-right", "40", "low", 0),
        ("top-right", "bmp11", "high", 0),
        ("bottom-left", "24", "high", 0),
        ("bottom-right", "16", "high", 0),
        ("centre", "24", "low", 0),
        ("left-mid", "40", "high", 270),
        ("right-mid", "16", "high", 90),
    ],
]
CT_SLOTS: list[list[Slot]] = [
    [
        ("top-left", "16", "high", 0),
        ("top-left", "bmp11", "high", 0),
        ("top-right", "24", "high", 0),
        ("bottom-left", "16", "low", 0),
        ("bottom-right", "bmp11", "low", 0),
    ],
    [
        ("top-left", "24", "low", 0),
        ("top-right", "16", "high", 0),
        ("bottom-left", "bmp11", "high", 0),
        ("bottom-right", "40", "high", 0),
        ("left-mid", "16", "high", 90),
    ],
    [
        ("top-left", "bmp11", "high", 0),
        ("top-right", "bmp11", "high", 0),
        ("centre", "24", "high", 0),
        ("bottom-left", "24", "high", 0),
        ("right-mid", "24", "low", 270),
    ],
    [
        ("top-left", "40", "low", 0),
        ("bottom-left", "16", "high", 0),
        ("bottom-right", "16", "low", 0),
        ("centre", "16", "low", 0),
        ("left-mid", "bmp11", "high", 90),
    ],
]
US_SLOTS: list[list[Slot]] = [
    [
        ("top-left", "bmp11", "high", 0),
        ("bottom-left", "16", "high", 0),
        ("bottom-right", "bmp11", "low", 0),
    ],
    [
        ("top-left", "16", "high", 0),
        ("bottom-left", "bmp11", "high", 0),
        ("left-mid", "bmp11", "high", 90),
    ],
    [
        ("top-left", "bmp11", "low", 0),
        ("bottom-left", "24", "high", 0),
        ("top-right", "bmp11", "high", 0),
    ],
    [
        ("top-left", "16", "low", 0),
        ("bottom-left", "16", "high", 0),
        ("bottom-right", "bmp11", "high", 0),
    ],
]
SCREEN_SLOTS: list[list[Slot]] = [
    [
        ("top-left", "24", "high", 0),
        ("top-left", "16", "high", 0),
        ("top-left", "bmp11", "high", 0),
        ("top-right", "16", "low", 0),
        ("bottom-left", "16", "high", 0),
        ("bottom-right", "bmp11", "low", 0),
    ],
    [
        ("top-left", "40", "high", 0),
        ("top-left", "bmp11", "high", 0),
        ("top-right", "24", "low", 0),
        ("bottom-left", "bmp11", "high", 0),
        ("bottom-right", "16", "high", 0),
        ("left-mid", "16", "high", 90),
    ],
]


def build_corpus(first_only: bool = False) -> list[Sample]:
    """The whole corpus, or only its first radiograph (with its planted lines)."""
    rng = np.random.default_rng(SEED)
    pick = random.Random(SEED)
    samples: list[Sample] = []
    value_i = 0
    kinds: list[tuple[str, Callable[[], np.ndarray], list[list[Slot]], int]] = [
        ("radiograph", lambda: make_radiograph(rng), RADIOGRAPH_SLOTS, 60),
        ("ct", lambda: make_ct(rng), CT_SLOTS, 10),
        ("ultrasound", lambda: make_ultrasound(rng), US_SLOTS, 4),
        ("screen", lambda: make_screen(rng), SCREEN_SLOTS, 16),
    ]
    for kind, maker, per_image, margin in kinds:
        for i, slots in enumerate(per_image):
            pixels = np.array(maker())  # writable copy
            h, w = pixels.shape[:2]
            layout = Layout(w, h, margin)
            sample = Sample(kind, f"{kind}-{i}", pixels)
            for anchor, size, contrast, rotation in slots:
                prefix, value = VALUES[value_i % len(VALUES)]
                value_i += 1
                if kind == "ultrasound" or (kind == "ct" and size == "40"):
                    prefix = ""  # small frames: keep lines short
                if pick.random() < 0.3:
                    prefix = ""
                text = prefix + value
                mask = render_mask(text, size, rotation)
                x, y = layout.place(anchor, *mask.size)
                assert 0 <= x <= w - mask.size[0] and 0 <= y <= h - mask.size[1], (
                    sample.name,
                    text,
                )
                stamp(pixels, mask, x, y, contrast)
                box = (x, y, x + mask.size[0], y + mask.size[1])
                sample.lines.append(Line(text, value, norm(value), box, size, contrast, rotation))
            samples.append(sample)
            if first_only:
                return samples
    # Clean busy images: no text at all.
    bone = make_radiograph(rng, 1024, 1024).astype(np.float32)
    yy, xx = np.mgrid[0:1024, 0:1024].astype(np.float32)
    for k in range(7):  # ribs: curved bright bands with sharp edges
        centre = 120 + k * 120 + 40 * np.sin(xx / 160 + k)
        bone[np.abs(yy - centre) < 22] += 70
    bone[:, 470:560] += 90  # spine
    ruler = make_ct(rng, 512)
    ruler[440:444, 40:472] = 255
    for t, x in enumerate(range(40, 473, 8)):
        ruler[444 : 444 + (18 if t % 5 == 0 else 8), x : x + 2] = 255
    ruler[40:472, 470:474] = 255
    for t, y in enumerate(range(40, 473, 8)):
        ruler[y : y + 2, 474 - (18 if t % 5 == 0 else 8) - 4 : 470] = 255
    cleans = [
        ("clean-noise", rng.integers(0, 256, (512, 512), dtype=np.uint8)),
        ("clean-lung", make_ct(rng, 512, lungs=True)),
        ("clean-bone", to_u8(bone)),
        ("clean-ruler", ruler),
        ("clean-xray", make_radiograph(rng)),
        ("clean-us", make_ultrasound(rng)),
    ]
    samples.extend(Sample("clean", name, px) for name, px in cleans)
    return samples


# --------------------------------------------------------------------------- engines


@dataclass
class Det:
    box: tuple[float, float, float, float]
    text: str


Engine = Callable[[np.ndarray], list[Det]]


def rgb(pixels: np.ndarray) -> np.ndarray:
    return pixels if pixels.ndim == 3 else np.repeat(pixels[..., None], 3, axis=2)


def upscale3(pixels: np.ndarray) -> np.ndarray:
    import cv2

    h, w = pixels.shape[:2]
    return cv2.resize(pixels, (w * 3, h * 3), interpolation=cv2.INTER_CUBIC)


def make_rapidocr() -> Engine | None:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        print(f"skipping rapidocr: not importable ({exc})")
        return None
    engine = RapidOCR(text_score=0.0)
    versions = f"{version('rapidocr-onnxruntime')}, onnxruntime {version('onnxruntime')}"
    print(f"rapidocr-onnxruntime {versions}")

    def run(pixels: np.ndarray) -> list[Det]:
        result, _ = engine(rgb(pixels))
        dets = []
        for points, text, _score in result or []:
            pts = np.asarray(points, np.float32)
            box = (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())
            dets.append(Det(tuple(float(v) for v in box), str(text)))  # type: ignore[arg-type]
        return dets

    return run


def make_tesseract(psm: int | None) -> Engine | None:
    try:
        import pytesseract
    except ImportError as exc:
        print(f"skipping tesseract: pytesseract not importable ({exc})")
        return None
    try:
        pytesseract.get_tesseract_version()
    except pytesseract.TesseractNotFoundError:
        print("skipping tesseract: the tesseract binary is not installed")
        return None
    config = f"--psm {psm}" if psm is not None else ""
    if psm == 11:
        print(
            f"tesseract {pytesseract.get_tesseract_version()}, pytesseract {version('pytesseract')}"
        )

    def run(pixels: np.ndarray) -> list[Det]:
        data = pytesseract.image_to_data(
            Image.fromarray(pixels), config=config, output_type=pytesseract.Output.DICT, timeout=120
        )
        lines: dict[tuple[int, int, int, int], list[int]] = {}
        for i, word in enumerate(data["text"]):
            if not str(word).strip() or float(data["conf"][i]) < 0:
                continue
            key = (
                data["page_num"][i],
                data["block_num"][i],
                data["par_num"][i],
                data["line_num"][i],
            )
            lines.setdefault(key, []).append(i)
        dets = []
        for idx in lines.values():
            x0 = min(data["left"][i] for i in idx)
            y0 = min(data["top"][i] for i in idx)
            x1 = max(data["left"][i] + data["width"][i] for i in idx)
            y1 = max(data["top"][i] + data["height"][i] for i in idx)
            text = " ".join(str(data["text"][i]) for i in idx)
            dets.append(Det((float(x0), float(y0), float(x1), float(y1)), text))
        return dets

    return run


def scaled(engine: Engine, factor: int = 3) -> Engine:
    def run(pixels: np.ndarray) -> list[Det]:
        out = engine(upscale3(pixels))
        return [Det(tuple(v / factor for v in d.box), d.text) for d in out]  # type: ignore[arg-type]

    return run


# --------------------------------------------------------------------------- scoring


def area(b: tuple[float, float, float, float]) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def inter(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def matches(det: Det, line: Line) -> bool:
    i = inter(det.box, line.box)
    union = area(det.box) + area(line.box) - i
    return (union > 0 and i / union > 0.1) or i / area(line.box) > 0.5


@dataclass
class LineResult:
    kind: str
    line: Line
    found: bool
    recognised: bool
    lenient: bool  # recognised if a "^" may be read as any one character


@dataclass
class ImageResult:
    sample: Sample
    seconds: float
    dets: list[Det]


def score(sample: Sample, dets: list[Det]) -> list[LineResult]:
    out = []
    for line in sample.lines:
        hits = [d for d in dets if matches(d, line)]
        # fragments of the line (a word box each) also belong to it
        parts = [d for d in dets if d in hits or inter(d.box, line.box) > 0.5 * max(area(d.box), 1)]
        if line.rotation == 90:  # counter-clockwise: reads bottom to top
            parts.sort(key=lambda d: (-d.box[3], d.box[0]))
        elif line.rotation == 270:
            parts.sort(key=lambda d: (d.box[1], -d.box[2]))
        else:
            parts.sort(key=lambda d: (d.box[1], d.box[0]))
        text = norm("".join(d.text for d in parts))
        lenient = re.compile(".?".join(norm(p) for p in line.value.split("^")))
        out.append(
            LineResult(
                sample.kind, line, bool(hits), line.needle in text, bool(lenient.search(text))
            )
        )
    return out


def run_engine(engine: Engine, samples: list[Sample]) -> tuple[list[ImageResult], list[LineResult]]:
    engine(make_ct(np.random.default_rng(0)))  # warm-up on a 512x512 slice, untimed
    images, lines = [], []
    for s in samples:
        t0 = time.perf_counter()
        dets = engine(s.pixels)
        images.append(ImageResult(s, time.perf_counter() - t0, dets))
        lines.extend(score(s, dets))
    return images, lines


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:.0f}%" if d else "-"


ROW = "  {:<11}{:>5}{:>6}{:>6}{:>7}{:>7}{:>7}{:>5}{:>5}{:>8}"


def print_table(name: str, images: list[ImageResult], lines: list[LineResult]) -> None:
    print(f"\n{name}")
    print(
        ROW.format(
            "kind", "imgs", "lines", "found", "recall", "recog", "rec^~", "fp", "fp3", "s/img"
        )
    )
    for kind in dict.fromkeys(r.sample.kind for r in images):
        imgs = [r for r in images if r.sample.kind == kind]
        ls = [r for r in lines if r.kind == kind]
        secs = f"{sum(r.seconds for r in imgs) / len(imgs):.2f}"
        if kind == "clean":
            fp = sum(len(r.dets) for r in imgs)
            fp3 = sum(len([d for d in r.dets if len(norm(d.text)) >= 3]) for r in imgs)
            print(ROW.format(kind, len(imgs), "-", "-", "-", "-", "-", fp, fp3, secs))
            continue
        found, recog, loose = (
            sum(getattr(r, a) for r in ls) for a in ("found", "recognised", "lenient")
        )
        print(
            ROW.format(
                kind,
                len(imgs),
                len(ls),
                found,
                pct(found, len(ls)),
                pct(recog, len(ls)),
                pct(loose, len(ls)),
                "-",
                "-",
                secs,
            )
        )
    if len({r.kind for r in lines}) > 1:
        found, recog, loose = (
            sum(getattr(r, a) for r in lines) for a in ("found", "recognised", "lenient")
        )
        print(
            ROW.format(
                "all text",
                "",
                len(lines),
                found,
                pct(found, len(lines)),
                pct(recog, len(lines)),
                pct(loose, len(lines)),
                "",
                "",
                "",
            )
        )
    cleans = [r for r in images if r.sample.kind == "clean"]
    if cleans:
        per = ", ".join(f"{r.sample.name[6:]} {len(r.dets)}" for r in cleans)
        xray = next(r.seconds for r in cleans if r.sample.name == "clean-xray")
        print(f"  fp boxes per clean image: {per}; clean 2000x2500 took {xray:.2f}s")
        odd = [d.text for r in cleans for d in r.dets if len(norm(d.text)) >= 3][:5]
        if odd:
            print(f"  e.g. fp3 texts: {odd}")


def print_breakdown(all_lines: dict[str, list[LineResult]]) -> None:
    groups: list[tuple[str, Callable[[Line], bool]]] = [
        *((f"sz{s}", lambda ln, s=s: ln.size == s) for s in SIZES),
        ("high", lambda ln: ln.contrast == "high"),
        ("low25%", lambda ln: ln.contrast == "low"),
        ("upright", lambda ln: ln.rotation == 0),
        ("rot90", lambda ln: ln.rotation != 0),
    ]
    print("\nfound/recognised(rec^~) per attribute, all text kinds; n = lines with it")
    names = [g for g, _ in groups]
    counts = [len([r for r in next(iter(all_lines.values())) if c(r.line)]) for _, c in groups]
    print(
        f"  {'engine':<16}"
        + "".join(f"{f'{g} n={n}':>13}" for g, n in zip(names, counts, strict=True))
    )
    for name, lines in all_lines.items():
        cells = []
        for _, cond in groups:
            sel = [r for r in lines if cond(r.line)]
            cells.append(f"{sum(r.found for r in sel)}/{sum(r.lenient for r in sel)}")
        print(f"  {name:<16}" + "".join(f"{c:>13}" for c in cells))


# --------------------------------------------------------------------------- children


def child(mode: str) -> None:
    """Runs in a fresh process: prints one RESULT line."""
    attempts: list[str] = []
    if mode == "net-audit":

        def refuse(event: str, args: tuple[Any, ...]) -> None:
            if event.startswith(("socket.", "urllib.")):
                attempts.append(event)
                raise OSError(f"network refused by benchmark: {event}")

        sys.addaudithook(refuse)
    pixels = build_corpus(first_only=True)[0].pixels  # 2000x2500 with 8 planted lines
    if mode == "mem-base":
        status = Path("/proc/self/status").read_text()
        print(f"RESULT maxrss_kb={maxrss_kb()} vmhwm_kb={vmhwm_kb(status)} boxes=0")
        return
    from rapidocr_onnxruntime import RapidOCR
    from rapidocr_onnxruntime.utils import infer_engine

    if mode == "mem-arena-on":
        original = infer_engine.OrtInferSession._init_sess_opts

        def with_arena(config: dict[str, Any]) -> Any:
            opts = original(config)
            opts.enable_cpu_mem_arena = True
            return opts

        infer_engine.OrtInferSession._init_sess_opts = staticmethod(with_arena)  # type: ignore[method-assign]
    engine = RapidOCR(text_score=0.0)
    sessions = [  # TextRecognizer names its OrtInferSession "session", the others "infer"
        getattr(part, "infer", None) or part.session
        for part in (engine.text_det, engine.text_cls, engine.text_rec)
    ]
    arena = [ort.session.get_session_options().enable_cpu_mem_arena for ort in sessions]
    result, _ = engine(rgb(pixels))
    status = Path("/proc/self/status").read_text()
    during = len(attempts)
    extra = ""
    if mode == "net-audit":
        import socket

        try:  # prove the hook is live: this must be refused
            socket.create_connection(("192.0.2.1", 443), timeout=1).close()
            live = False
        except OSError as exc:
            live = "refused by benchmark" in str(exc)
        extra = f" socket_events_during_ocr={during} hook_live={live}"
    elif mode == "net-unshare":
        import socket

        extra = f" interfaces={[name for _, name in socket.if_nameindex()]}"
    print(
        f"RESULT maxrss_kb={maxrss_kb()} vmhwm_kb={vmhwm_kb(status)} "
        f"boxes={len(result or [])} arena={arena}{extra}"
    )


def maxrss_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def vmhwm_kb(status: str) -> int:
    m = re.search(r"VmHWM:\s+(\d+)", status)
    return int(m.group(1)) if m else -1


def run_child(mode: str, prefix: list[str] | None = None) -> tuple[bool, str]:
    cmd = [*(prefix or []), sys.executable, os.path.abspath(__file__), "--child", mode]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    result = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode == 0 and result:
        return True, result[-1][7:]
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return False, f"exit {proc.returncode}: {tail}"


def child_checks() -> None:
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        print("skipping rapidocr network and memory checks: rapidocr not importable")
        return
    print("\nrapidocr with no network (fresh child process, one 2000x2500 image)")
    ok, msg = run_child("net-audit")
    print(f"  python sockets refused (audit): {'works' if ok else 'FAILS'} - {msg}")
    ok, msg = run_child("net-unshare", ["unshare", "-n"])
    print(f"  under `unshare -n` (no netns):  {'works' if ok else 'not run/failed'} - {msg}")
    print("\nrapidocr peak memory, MB (fresh child each: load + one 2000x2500 image; 2 runs)")
    for mode, label in [
        ("mem-base", "python+numpy+image, no OCR"),
        ("mem-shipped", "rapidocr as shipped"),
        ("mem-arena-on", "rapidocr, cpu mem arena forced on"),
    ]:
        rss, hwm, info = [], [], ""
        for _ in range(2):
            ok, msg = run_child(mode)
            if not ok:
                info = f"failed - {msg}"
                break
            fields = dict(kv.split("=", 1) for kv in msg.split(" ")[:3])
            rss.append(f"{int(fields['maxrss_kb']) / 1024:.0f}")
            hwm.append(f"{int(fields['vmhwm_kb']) / 1024:.0f}")
            info = " ".join(msg.split(" ")[2:])
        print(f"  {label:<34} ru_maxrss {'/'.join(rss):>9}  VmHWM {'/'.join(hwm):>9}  {info}")


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--no-children", action="store_true", help="skip network/memory checks")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    start = time.perf_counter()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    if not args.no_children:
        child_checks()  # first, while this process is still small

    t0 = time.perf_counter()
    samples = build_corpus()
    n_lines = sum(len(s.lines) for s in samples)
    print(
        f"\ncorpus: {len(samples)} images, {n_lines} planted lines, built in "
        f"{time.perf_counter() - t0:.1f}s"
    )

    us = [s for s in samples if s.kind == "ultrasound"]
    rapid = make_rapidocr()
    tess11 = make_tesseract(11)
    tess_default = make_tesseract(None) if tess11 is not None else None
    configs: list[tuple[str, Engine | None, list[Sample]]] = [
        ("rapidocr", rapid, samples),
        ("rapidocr us x3", rapid and scaled(rapid), us),
        ("tess psm11", tess11, samples),
        ("tess default", tess_default, samples),
        ("tess psm11 us x3", tess11 and scaled(tess11), us),
    ]
    all_lines: dict[str, list[LineResult]] = {}
    for name, engine, subset in configs:
        if engine is None:
            continue
        images, lines = run_engine(engine, subset)
        print_table(name, images, lines)
        all_lines[name] = lines
    if all_lines:
        print_breakdown({k: v for k, v in all_lines.items() if "x3" not in k})
    print(f"\ntotal {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
