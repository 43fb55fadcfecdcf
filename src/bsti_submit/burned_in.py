"""Which images may show a name in their pixels, judged from the original header.

Quarantined by default: BurnedInAnnotation YES, secondary capture SOP classes, modalities that are
mostly screen grabs or annotated (SC, OT, US, XC), ImageType SECONDARY, screen captures such as CT
dose reports, and headers that match deid's bundled lists of devices known to burn text in
(its graylist and blacklist, from the MIRC CTP criteria).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property
from typing import Any

from pydicom.dataset import Dataset

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


class BurnedInRisk:
    """Assesses original headers; deid's verdict is cached per combination of the values its
    filters read, so a series costs one evaluation."""

    def __init__(self) -> None:
        self._deid_cache: dict[tuple[str, ...], bool] = {}

    def assess(self, dataset: Dataset) -> list[Finding]:
        """The burned-in risks of one original instance; empty when none is seen."""
        findings = [Finding(_CHECK, reason) for test, reason in _HEADER_TESTS if test(dataset)]
        if self._deid_flags(dataset):
            findings.append(Finding(_CHECK, "matches deid's list of devices that burn in text"))
        return findings

    def _deid_flags(self, dataset: Dataset) -> bool:
        key = tuple(str(dataset.get(field, "")) for field in self._deid_fields)
        if key not in self._deid_cache:
            self._deid_cache[key] = _deid_verdict(dataset, self._deid_recipe)
        return self._deid_cache[key]

    @cached_property
    def _deid_recipe(self) -> Any:
        from deid.config import DeidRecipe
        from deid.logger import bot

        bot.level = -10
        return DeidRecipe("dicom")

    @cached_property
    def _deid_fields(self) -> tuple[str, ...]:
        fields = set()
        for items in self._deid_recipe.get_filters().values():
            for item in items:
                for group in item.get("filters", []):
                    fields |= {field.strip() for field in group["field"]}
        return tuple(sorted(fields))


def _deid_verdict(dataset: Dataset, recipe: Any) -> bool:
    from deid.dicom.pixels.detect import _has_burned_pixels_single

    result = _has_burned_pixels_single(dataset, True, recipe)
    return any(found["group"] in _RISKY_DEID_GROUPS for found in result["results"])


def _image_type(dataset: Dataset) -> list[str]:
    value = dataset.get("ImageType") or []
    items = [value] if isinstance(value, str) else list(value)
    return [str(item).upper() for item in items]


_HEADER_TESTS: tuple[tuple[Callable[[Dataset], bool], str], ...] = (
    (lambda ds: str(ds.get("BurnedInAnnotation", "")).upper() == "YES", "BurnedInAnnotation YES"),
    (lambda ds: str(ds.get("SOPClassUID", "")) in SECONDARY_CAPTURE_CLASSES, "secondary capture"),
    (
        lambda ds: str(ds.get("Modality", "")).upper() in RISKY_MODALITIES,
        "modality SC, OT, US or XC",
    ),
    (lambda ds: "SECONDARY" in _image_type(ds), "ImageType SECONDARY"),
    (
        lambda ds: (
            any(
                _SCREEN_CAPTURE.search(str(ds.get(keyword, "")))
                for keyword in ("SeriesDescription", "ImageComments", "ProtocolName")
            )
            or "SCREEN SAVE" in " ".join(_image_type(ds))
        ),
        "screen capture such as a dose report",
    ),
)
