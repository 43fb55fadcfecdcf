"""Which images are read in full for burned-in text, judged from the original header.

The header triggers; the pixels decide. Read in full, every frame: radiographs and other
projection images, localisers, secondary and screen captures, ultrasound and photographs,
derived and secondary images (key images, reformats), multi-frame objects other than a
cross-sectional stack, headers that say BurnedInAnnotation YES or match deid's bundled lists of
devices that burn text in (its graylist and blacklist, from the MIRC CTP criteria), and anything
the header does not place. Plain CT, MR, PET and NM slices get the cheap screen
(`text_screen`) first. A header that says BurnedInAnnotation YES, and a screen capture of a
report, must have text found and masked, or the instance is held: a detector's miss is not proof.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydicom.dataset import Dataset

from ..deid.pixels import parse_rectangle
from ..deid.profile import Profile, parse_with_deid
from ..dicomio.elements import header_text, stored_form, tag_for
from ..records import Blank
from . import deid_filters
from .deid_filters import Match

SECONDARY_CAPTURE_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.7",
        "1.2.840.10008.5.1.4.1.1.7.1",
        "1.2.840.10008.5.1.4.1.1.7.2",
        "1.2.840.10008.5.1.4.1.1.7.3",
        "1.2.840.10008.5.1.4.1.1.7.4",
    }
)
CROSS_SECTIONAL_MODALITIES = frozenset({"CT", "MR", "PT", "NM"})
_SCREEN_CAPTURE = re.compile(
    r"dose\s*(report|info)|screen\s*(save|capture)|patient\s*protocol|exam\s*summary", re.I
)
_DEVICE_LIST_GROUPS = ("graylist", "blacklist")
_CACHED_HEADERS = 4096


class Look(Enum):
    """How an instance's frames are read: all in full, or screened first."""

    FULL = "full"
    SCREEN = "screen"


@dataclass(frozen=True)
class PixelPlan:
    """How to read one instance's pixels, why, and whether text must be found (the header
    says there is some)."""

    look: Look
    reasons: tuple[str, ...] = ()
    must_find: str = ""


class DeidFilters:
    """A recipe's `%filter` criteria, evaluated on headers. The verdict is cached per
    combination of the values the criteria read, so a series costs one evaluation."""

    def __init__(self, recipe: Any) -> None:
        self._filters = recipe.get_filters()
        fields = deid_filters.criteria_fields(self._filters)
        tags = {field if isinstance(field, int) else tag_for(field) for field in fields}
        self._tags = tuple(sorted(tag for tag in tags if tag is not None))
        self._cache: dict[tuple[object, ...], list[Match]] = {}

    def matches(self, dataset: Dataset) -> list[Match]:
        """The criteria a header meets, each with its filter group and rectangles."""
        key = tuple(stored_form(dataset, tag) for tag in self._tags)
        if key not in self._cache:
            if len(self._cache) >= _CACHED_HEADERS:  # a long backfill: memory stays bounded
                self._cache.clear()
            self._cache[key] = deid_filters.matches(dataset, self._filters)
        return self._cache[key]


class BurnedInPlanner:
    """Plans the reading of pixels from original headers."""

    def __init__(self) -> None:
        self._bundled = DeidFilters(parse_with_deid("dicom"))  # deid's graylist and blacklist

    def plan(self, dataset: Dataset) -> PixelPlan:
        """The plan for one original instance."""
        reasons = [reason for test, reason in _FULL_READING if test(dataset)]
        if any(found.group in _DEVICE_LIST_GROUPS for found in self._bundled.matches(dataset)):
            reasons.append("on deid's list of devices that burn in text")
        must_find = next((reason for test, reason in _MUST_FIND if test(dataset)), "")
        return PixelPlan(Look.FULL if reasons else Look.SCREEN, tuple(reasons), must_find)


class MaskRules:
    """A profile's own `%filter` rules: for a matching device, the rectangles to blank."""

    def __init__(self, profile: Profile) -> None:
        self._filters = [DeidFilters(parse_with_deid(path)) for path in profile.mask_sources]

    def blanks_for(self, dataset: Dataset) -> list[Blank]:
        """The rectangles of every mask rule that matches an original header, in every frame."""
        return [
            Blank(None, parse_rectangle(rectangle))
            for filters in self._filters
            for found in filters.matches(dataset)
            for rectangle in found.rectangles
        ]


def _upper(dataset: Dataset, keyword: str) -> str:
    return header_text(dataset, keyword).strip().upper()


def _image_type(dataset: Dataset) -> list[str]:
    return [value.strip() for value in _upper(dataset, "ImageType").split("\\")]


def _is_plain_slice(dataset: Dataset) -> bool:
    """An original cross-sectional slice, or a stack of them."""
    image_type = _image_type(dataset)
    return (
        _upper(dataset, "Modality") in CROSS_SECTIONAL_MODALITIES
        and image_type[:2] == ["ORIGINAL", "PRIMARY"]
        and not {"LOCALIZER", "SCOUT", "SCREEN SAVE"} & set(image_type)
        and int(dataset.get("SamplesPerPixel", 1) or 1) == 1
    )


def _is_report_capture(dataset: Dataset) -> bool:
    return any(
        _SCREEN_CAPTURE.search(header_text(dataset, keyword))
        for keyword in ("SeriesDescription", "ImageComments", "ProtocolName")
    ) or "SCREEN SAVE" in " ".join(_image_type(dataset))


_BURNED_IN_YES = "BurnedInAnnotation YES"
_REPORT_CAPTURE = "a screen capture such as a dose report"
_FULL_READING: tuple[tuple[Callable[[Dataset], bool], str], ...] = (
    (lambda ds: _upper(ds, "BurnedInAnnotation") == "YES", _BURNED_IN_YES),
    (lambda ds: _upper(ds, "SOPClassUID") in SECONDARY_CAPTURE_CLASSES, "a secondary capture"),
    (_is_report_capture, _REPORT_CAPTURE),
    (lambda ds: not _is_plain_slice(ds), "not an original cross-sectional slice"),
)
_MUST_FIND: tuple[tuple[Callable[[Dataset], bool], str], ...] = (
    (lambda ds: _upper(ds, "BurnedInAnnotation") == "YES", _BURNED_IN_YES),
    (_is_report_capture, _REPORT_CAPTURE),
)
