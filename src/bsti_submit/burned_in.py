"""Which images may show a name in their pixels, judged from the original header.

Quarantined by default: BurnedInAnnotation YES, secondary capture SOP classes, modalities that are
mostly screen grabs or annotated (SC, OT, US, XC), ImageType SECONDARY, screen captures such as CT
dose reports, and headers that match deid's bundled lists of devices known to burn text in
(its graylist and blacklist, from the MIRC CTP criteria).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydicom.dataset import Dataset

from . import deid_filters
from .deid_filters import Match
from .elements import header_text, stored_form, tag_for
from .pixels import Rectangle, parse_rectangle
from .profile import Profile, parse_with_deid
from .verify import Finding

SECONDARY_CAPTURE_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.7",
        "1.2.840.10008.5.1.4.1.1.7.1",
        "1.2.840.10008.5.1.4.1.1.7.2",
        "1.2.840.10008.5.1.4.1.1.7.3",
        "1.2.840.10008.5.1.4.1.1.7.4",
    }
)
RISKY_MODALITIES = frozenset({"SC", "OT", "US", "XC"})
_SCREEN_CAPTURE = re.compile(
    r"dose\s*(report|info)|screen\s*(save|capture)|patient\s*protocol|exam\s*summary", re.I
)
_CHECK = "burned-in text risk"
_RISKY_DEID_GROUPS = ("graylist", "blacklist")
_CACHED_HEADERS = 4096


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


class BurnedInRisk:
    """Assesses original headers for text that may be burned into the pixels."""

    def __init__(self) -> None:
        from deid.config import DeidRecipe
        from deid.logger import bot

        bot.level = -10
        self._bundled = DeidFilters(DeidRecipe("dicom"))  # deid's graylist and blacklist

    def assess(self, dataset: Dataset) -> list[Finding]:
        """The burned-in risks of one original instance; empty when none is seen."""
        findings = [Finding(_CHECK, reason) for test, reason in _HEADER_TESTS if test(dataset)]
        if any(found.group in _RISKY_DEID_GROUPS for found in self._bundled.matches(dataset)):
            findings.append(Finding(_CHECK, "matches deid's list of devices that burn in text"))
        return findings


class MaskRules:
    """A profile's own `%filter` rules: for a matching device, the rectangles to blank."""

    def __init__(self, profile: Profile) -> None:
        self._filters = [DeidFilters(parse_with_deid(path)) for path in profile.mask_sources]

    def rectangles_for(self, dataset: Dataset) -> list[Rectangle]:
        """The rectangles of every mask rule that matches an original header."""
        return [
            parse_rectangle(rectangle)
            for filters in self._filters
            for found in filters.matches(dataset)
            for rectangle in found.rectangles
        ]


def _upper(dataset: Dataset, keyword: str) -> str:
    return header_text(dataset, keyword).strip().upper()


def _image_type(dataset: Dataset) -> list[str]:
    return [value.strip() for value in _upper(dataset, "ImageType").split("\\")]


_HEADER_TESTS: tuple[tuple[Callable[[Dataset], bool], str], ...] = (
    (lambda ds: _upper(ds, "BurnedInAnnotation") == "YES", "BurnedInAnnotation YES"),
    (lambda ds: _upper(ds, "SOPClassUID") in SECONDARY_CAPTURE_CLASSES, "secondary capture"),
    (lambda ds: _upper(ds, "Modality") in RISKY_MODALITIES, "modality SC, OT, US or XC"),
    (lambda ds: "SECONDARY" in _image_type(ds), "ImageType SECONDARY"),
    (
        lambda ds: (
            any(
                _SCREEN_CAPTURE.search(header_text(ds, keyword))
                for keyword in ("SeriesDescription", "ImageComments", "ProtocolName")
            )
            or "SCREEN SAVE" in " ".join(_image_type(ds))
        ),
        "screen capture such as a dose report",
    ),
)
