"""Burned-in text: look for it in the pixels, then mask it or hold the instance.

Which images are read in full, and which get the cheap screen first, comes from the original
header (`burned_in.PixelPlan`). Every region of text found is masked (profile setting
`burned_in_text: mask`) or listed in a hold (`hold`), except a region whose text is only a
laterality or positioning marker or a scale, from MARKERS, one or two glyphs on their own, or a
blob the recogniser reads no letter or digit in. A region whose text matches an identifier of
the header or a generic pattern is never such a marker. The recognised text goes into the audit
log only, which never leaves the trust.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

from ..deid.finder import Finder, fold
from ..deid.identifiers import Kind, OriginalIdentifiers
from ..deid.pixels import PIXEL_DATA, PixelError, Pixels, record_clean_pixels
from ..records import Blank, Change, Finding
from .burned_in import Look, PixelPlan
from .ocr import TextReader, TextRegion, shared_reader
from .text_screen import may_show_text

CHECK = "burned-in text"
EVERY_FRAME = -1  # a held region's frame when it was found in the projection of all frames
# Text a radiographer or a device puts on an image that identifies nobody; a region whose whole
# text is made of these (and scales: numbers with cm or mm) stays.
MARKERS = (
    "L",
    "R",
    "LT",
    "RT",
    "LEFT",
    "RIGHT",
    "AP",
    "PA",
    "LAT",
    "LATERAL",
    "ERECT",
    "SEMI",
    "UPRIGHT",
    "SITTING",
    "SUPINE",
    "PRONE",
    "DECUBITUS",
    "PORTABLE",
    "MOBILE",
    "INSP",
    "EXP",
)
_SCALE = r"(?:\d{1,3}(?:\.\d{1,2})?)+(?:CM|MM)"
_MARKER_TEXT = re.compile(
    rf"(?:{'|'.join(sorted(MARKERS, key=len, reverse=True))}|{_SCALE})+", re.ASCII
)
_SURE = 0.5  # the recogniser's confidence below which a marker is not taken on trust
_LINE_GAP = 3  # heights: regions of text this close on one line are one line
_FEW_GLYPHS = 2  # characters too few to identify anyone, read in a box of about their shape:
_FEW_GLYPHS_ASPECT = (1 / 3, 3.0)  # its width, in heights (a rotated line is taller)
_SHORTEST_PART = 3  # letters or digits of a header value sought inside the read text
_DATE_FORMS = ("%d%m%Y", "%Y%m%d", "%d%m%y", "%d%b%Y", "%d%b%y")


@dataclass
class PixelOutcome:
    """What cleaning the pixels changed, what was blanked, and why the instance may not leave."""

    changes: list[Change] = field(default_factory=list)
    masked: list[Blank] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class FoundText:
    """A region of text in one frame, and what was judged of its text."""

    frame: int | None  # None: every frame
    region: TextRegion
    identifier: bool
    marker: bool

    @property
    def where(self) -> str:
        x0, y0, x1, y1 = self.region.box
        frames = "every frame" if self.frame is None else f"frame {self.frame}"
        return f"{frames} ({x0},{y0})-({x1},{y1})"


class BurnedInText:
    """Reads an instance's pixels for text and masks or holds what it finds."""

    def __init__(self, mode: str, reader: TextReader | None = None) -> None:
        self.mode = mode
        self.reader = reader or shared_reader()

    def clean(
        self,
        dataset: Dataset,
        plan: PixelPlan,
        rule_blanks: list[Blank],
        finder: Finder,
        original: OriginalIdentifiers,
    ) -> PixelOutcome:
        """Clear the high bits, apply the profile's mask rules, read the frames the plan asks
        for and mask (or list) the text; what changed, and why the instance may not leave."""
        if "IconImageSequence" in dataset:  # kept by the profile: its pixels are not read
            return PixelOutcome(findings=[Finding(CHECK, "an icon image is kept, unread")])
        if "PixelData" not in dataset:
            return PixelOutcome()
        try:
            pixels = Pixels(dataset)
        except PixelError as error:
            return PixelOutcome(findings=[Finding(CHECK, f"pixels cannot be read ({error})")])
        outcome = PixelOutcome(_clear_high_bits(pixels), list(rule_blanks))
        if rule_blanks:
            outcome.changes.append(_rules_applied(rule_blanks))
        text = [item for item in self._read(pixels, plan, finder, original) if not item.marker]
        if self.mode == "hold":
            outcome.findings += [_finding(item) for item in text]
        else:
            outcome.masked += [Blank(item.frame, item.region.box) for item in text]
            outcome.masked += _gaps_between(text)
            outcome.changes += [_masked(item) for item in text]
        if outcome.masked:
            pixels.blank(outcome.masked)
        removed = outcome.masked or any(change.action == "CLEAR" for change in outcome.changes)
        if plan.must_find and not removed and not outcome.findings:
            outcome.findings.append(
                Finding(CHECK, f"{plan.must_find}, and no text was found to mask")
            )
        pixels.store()
        if pixels.changed:
            record_clean_pixels(dataset, outcome.changes)
        return outcome

    def _read(
        self, pixels: Pixels, plan: PixelPlan, finder: Finder, original: OriginalIdentifiers
    ) -> list[FoundText]:
        found: list[FoundText] = []
        for frame, image in _images(pixels, plan):
            for region in self.reader.read(image):
                identifier = identifies(region.text, finder, original)
                marker = not identifier and is_marker(region)
                found.append(FoundText(frame, region, identifier, marker))
        return found


def _images(pixels: Pixels, plan: PixelPlan) -> Iterator[tuple[int | None, np.ndarray]]:
    """The images to read, each with its frame (None: what is found applies to every frame).
    A stack of slices: each slice the screen fires on. A single frame: itself. Other
    multi-frame objects (cine loops, ultrasound clips): the projections of all frames, read
    twice instead of once a frame."""
    if plan.look is Look.SCREEN:
        for frame in range(pixels.count):
            image = pixels.display(frame)
            if may_show_text(image):
                yield frame, image
    elif pixels.count == 1:
        yield 0, pixels.display(0)
    else:
        for image in pixels.projections():
            yield None, image


def _gaps_between(text: list[FoundText]) -> list[Blank]:
    """The gaps between regions of text on one line, a few heights apart: the detector can
    split a line where a word is faint or tiny, and what lies between is text too."""
    gaps = []
    for left in text:
        for right in text:
            _, ly0, lx1, ly1 = left.region.box
            rx0, ry0, _, ry1 = right.region.box
            height = max(ly1 - ly0, ry1 - ry0)
            overlap = min(ly1, ry1) - max(ly0, ry0)
            same_line = left.frame == right.frame and overlap >= min(ly1 - ly0, ry1 - ry0) / 2
            if same_line and lx1 < rx0 <= lx1 + _LINE_GAP * height:
                gaps.append(Blank(left.frame, (lx1, min(ly0, ry0), rx0, max(ly1, ry1))))
    return gaps


def is_marker(region: TextRegion) -> bool:
    """Whether a region names nobody: its text, read with confidence, is only markers and
    scales; or it is one or two glyphs on their own (at most two characters read in a box about
    as wide as high: a marker the recogniser misread, a vertebra or a dark bubble in the
    anatomy, never a name or a number that identifies); or the recogniser, unsure, read no
    letter or digit in it (a blob the detector took for text)."""
    compact = re.sub(r"[^A-Z0-9.]", "", region.text.upper())
    characters = len(compact.replace(".", ""))
    x0, y0, x1, y1 = region.box
    narrowest, widest = _FEW_GLYPHS_ASPECT
    if characters <= _FEW_GLYPHS and narrowest <= (x1 - x0) / max(1, y1 - y0) <= widest:
        return True
    if region.confidence < _SURE:
        return characters == 0
    return bool(compact) and bool(_MARKER_TEXT.fullmatch(compact))


def identifies(text: str, finder: Finder, original: OriginalIdentifiers) -> bool:
    """Whether read text holds an identifier of the header or a generic pattern, also with
    the spaces the recogniser dropped (`TESTWOODALYSSA`)."""
    if not text.strip():
        return False
    if finder.find(text):
        return True
    compact = _compact(text)
    parts = {
        part
        for kind in (Kind.NAME, Kind.ID, Kind.ADDRESS)
        for value in original.of(kind)
        for part in re.split(r"[^A-Z0-9]+", fold(value)[0])
        if len(part) >= _SHORTEST_PART and not (kind is Kind.ID and part.isalpha())
    }
    dates = {day.strftime(form).upper() for day in original.dates for form in _DATE_FORMS}
    return any(part in compact for part in parts | dates)


def _compact(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", fold(text)[0])


def _clear_high_bits(pixels: Pixels) -> list[Change]:
    cleared = pixels.clear_high_bits()
    if not cleared:
        return []
    return [
        Change(
            PIXEL_DATA,
            "PixelData",
            "OW",
            "CLEAR",
            f"{cleared} pixel(s) with bits above HighBit set (an embedded overlay)",
            "bits above HighBit zeroed",
        )
    ]


def _masked(item: FoundText) -> Change:
    identifier = "matches an identifier" if item.identifier else "text"
    return Change(
        PIXEL_DATA,
        "PixelData",
        "OW",
        "MASK",
        item.region.text,
        f"{item.where} blanked: {identifier}",
    )


def _rules_applied(blanks: list[Blank]) -> Change:
    boxes = [blank.box for blank in blanks]
    return Change(
        PIXEL_DATA,
        "PixelData",
        "OW",
        "MASK",
        "profile mask rule",
        f"{len(boxes)} rectangle(s) blanked in every frame: {boxes}",
    )


def _finding(item: FoundText) -> Finding:
    kind = "text matching an identifier" if item.identifier else "text"
    x0, y0, x1, y1 = item.region.box
    frame = EVERY_FRAME if item.frame is None else item.frame
    return Finding(CHECK, kind, item.where, item.region.text, (frame, x0, y0, x1, y1))
