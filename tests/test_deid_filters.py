"""Our evaluation of deid `%filter` criteria gives deid's own results, on its bundled device
lists and on mask rules, for generated headers."""

from __future__ import annotations

import io
import itertools
from pathlib import Path
from typing import Any

import pydicom
import pytest
from deid.config import DeidRecipe
from deid.dicom.pixels.detect import _has_burned_pixels_single
from deid.logger import bot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from bsti_submit.gate.deid_filters import criteria_fields, matches
from bsti_submit.testing import FakePatient, make_instance

bot.level = -10
BUNDLED = DeidRecipe("dicom")
MASK_RULES = """FORMAT dicom

%filter trust_masks

LABEL Annotated ultrasound
  contains Modality US
  + contains ManufacturerModelName LOGIQ || equals Manufacturer TOSHIBA
  coordinates 0,0,640,60

LABEL Dose screens
  contains SeriesDescription dose|screen
  || empty ImageComments
  + missing BurnedInAnnotation
  ctpcoordinates 0,0,100,20
"""


# deid itself replaces a `from:` line in its parsed recipe with the first header's rectangles,
# so later headers get those: this rule is held to what the header says instead.
REGION_RULES = """FORMAT dicom

%filter trust_masks

LABEL Regions from the header
  equals Modality US
  coordinates from:SequenceOfUltrasoundRegions
"""


def filter_values(recipe: Any) -> list[str]:
    """The values the criteria look for, with each regex alternative on its own."""
    found = set()
    for items in recipe.get_filters().values():
        for item in items:
            for line in item.get("filters", []):
                for value in line["value"]:
                    found |= set(str(value).split("|"))
    return sorted(found)


def settable(recipe: Any) -> list[str]:
    """The keywords the criteria read that pydicom knows, so a header can carry them (the file
    meta's are not in the dataset the criteria see; sequences have a test of their own)."""
    return sorted(
        field
        for field in criteria_fields(recipe.get_filters())
        if isinstance(field, str)
        and (tag_for_keyword(field) or 0) >> 16 > 2
        and dictionary_VR(field) != "SQ"
    )


def deid_results(dataset: Dataset, recipe: Any) -> list[tuple[str, list[str]]]:
    """deid's own verdict: (filter group, rectangles) of each criterion met."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    read = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
    results = _has_burned_pixels_single(read, True, recipe)["results"]
    return [(found["group"], [str(c) for _, c in found["coordinates"]]) for found in results]


def our_results(dataset: Dataset, recipe: Any) -> list[tuple[str, list[str]]]:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    read = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
    return [(found.group, list(found.rectangles)) for found in matches(read, recipe.get_filters())]


def header_value(keyword: str, text: str) -> object:
    """`text` as a value of the attribute's VR (numbers for numeric VRs)."""
    vr = dictionary_VR(keyword)
    if vr in ("US", "SS", "UL"):
        return int(text) if text.isdigit() and int(text) < 65536 else 512
    if vr in ("DS", "IS"):
        return text if text.replace(".", "", 1).isdigit() else "1"
    if vr == "DA":
        return "20200324"
    return text[:64]


@st.composite
def headers(draw: st.DrawFn, recipe: Any) -> Dataset:
    """An instance whose criteria fields are missing, empty, or hold values the criteria
    look for (in any case, alone or within other text), or other text."""
    dataset = make_instance(FakePatient())
    values = filter_values(recipe)
    for keyword in settable(recipe):
        choice = draw(st.sampled_from(["missing", "empty", "sought", "sought", "within", "other"]))
        if choice == "missing":
            if keyword in dataset:
                delattr(dataset, keyword)
            continue
        sought = draw(st.sampled_from(values))
        text = {
            "empty": "",
            "sought": draw(st.sampled_from([sought, sought.upper(), sought.lower()])),
            "within": f"X {sought} 2",
            "other": draw(st.text("ABCXYZ abc019", max_size=12)),
        }[choice]
        value = header_value(keyword, text) if text else None
        if keyword == "ImageType" and text:
            value = ["DERIVED", text[:16]] if draw(st.booleans()) else text[:16]
        setattr(dataset, keyword, value)
    return dataset


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.integration  # against deid's own evaluation, many generated headers
@SETTINGS
@given(dataset=headers(BUNDLED))
def test_deid_device_lists_give_deid_results(dataset: Dataset) -> None:
    assert our_results(dataset, BUNDLED) == deid_results(dataset, BUNDLED)


def parsed(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "masks.deid"
    path.write_text(text, encoding="utf-8")
    return DeidRecipe(str(path), base=False)


@pytest.fixture(scope="module")
def mask_recipe(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return parsed(tmp_path_factory.mktemp("recipe"), MASK_RULES)


MASK_HEADER_VALUES: dict[str, tuple[str | None, ...]] = {
    "Modality": ("US", "CT", None),
    "ManufacturerModelName": ("LOGIQ E9", "Aplio", None),
    "Manufacturer": ("TOSHIBA", " toshiba ", "GE"),
    "SeriesDescription": ("Dose Report", "CT CHEST", ""),
    "ImageComments": ("", "a comment", None),
    "BurnedInAnnotation": ("NO", None),
}


@pytest.mark.integration  # against deid's own evaluation, every combination
def test_mask_rules_give_deid_results_on_every_combination(mask_recipe: Any) -> None:
    met = 0
    for values in itertools.product(*MASK_HEADER_VALUES.values()):
        dataset = make_instance(FakePatient())
        for keyword, value in zip(MASK_HEADER_VALUES, values, strict=True):
            if value is not None:
                setattr(dataset, keyword, value)
            elif keyword in dataset:
                delattr(dataset, keyword)
        ours = our_results(dataset, mask_recipe)
        assert ours == deid_results(dataset, mask_recipe), values
        met += bool(ours)
    assert met >= 40  # the combinations do meet the rules, each way


def test_rectangles_can_come_from_ultrasound_regions(tmp_path: Path) -> None:
    dataset = make_instance(FakePatient())
    dataset.Modality = "US"
    regions = []
    for x0, y0, x1, y1 in ((0, 0, 320, 40), (10, 400, 630, 470)):
        region = Dataset()
        region.RegionLocationMinX0, region.RegionLocationMinY0 = x0, y0
        region.RegionLocationMaxX1, region.RegionLocationMaxY1 = x1, y1
        regions.append(region)
    dataset.SequenceOfUltrasoundRegions = Sequence(regions)
    (found,) = matches(dataset, parsed(tmp_path, REGION_RULES).get_filters())
    assert found.rectangles == ("0,0,320,40", "10,400,630,470")
    dataset.Modality = "CT"
    assert not matches(dataset, parsed(tmp_path, REGION_RULES).get_filters())
