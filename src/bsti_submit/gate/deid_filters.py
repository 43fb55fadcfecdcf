"""deid's `%filter` criteria (its LABEL lines), evaluated on a header as deid evaluates them.

deid's own evaluator lives in `deid.dicom`, whose import pulls in matplotlib: a fifth of a
second per run, and per worker, for a few string comparisons. This is the same logic, held to
deid's results by the tests: within a filter line, actions combine left to right through their
`or`/`and` operators (none means `and`); the lines of one criterion must all hold; values are
compared as `str()` of pydicom's value, lower-cased and stripped, `contains` as a regex search.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

_FROM = "from:"
_REGION = (
    "RegionLocationMinX0",
    "RegionLocationMinY0",
    "RegionLocationMaxX1",
    "RegionLocationMaxY1",
)


@dataclass(frozen=True)
class Match:
    """A criterion a header meets: its filter group (graylist, blacklist...) and the
    rectangles (`x0,y0,x1,y1`) it gives to blank."""

    group: str
    name: str
    rectangles: tuple[str, ...]


def criteria_fields(filters: dict[str, list[dict[str, Any]]]) -> set[str | int]:
    """Every attribute the criteria read, as keywords or tags: what a verdict depends on."""
    fields: set[str | int] = set()
    for items in filters.values():
        for item in items:
            for line in item.get("filters", []):
                fields |= {_field(name) for name in line["field"]}
            for _, coordinates in item.get("coordinates", []):
                if _FROM in str(coordinates):
                    fields.add(_field(str(coordinates).replace(_FROM, "", 1)))
    return fields


def matches(dataset: Dataset, filters: dict[str, list[dict[str, Any]]]) -> list[Match]:
    """The criteria of a parsed recipe (`DeidRecipe.get_filters()`) that a header meets."""
    found = []
    for group, items in filters.items():
        for item in items:
            if _criterion_holds(dataset, item):
                rectangles = tuple(_rectangles(dataset, item.get("coordinates", [])))
                found.append(Match(group, item.get("name", ""), rectangles))
    return found


def _criterion_holds(dataset: Dataset, item: dict[str, Any]) -> bool:
    lines = item.get("filters") or []
    if not lines:
        return bool(item.get("coordinates"))  # coordinates alone: always applies
    return all(_line_holds(dataset, line) for line in lines)


def _line_holds(dataset: Dataset, line: dict[str, Any]) -> bool:
    """One LABEL line: its actions, combined left to right by the operators between them."""
    operators = line["InnerOperators"]
    values = line["value"]
    result = False
    for index, (action, field) in enumerate(zip(line["action"], line["field"], strict=True)):
        value = values[index] if index < len(values) else ""
        outcome = _action_holds(dataset, _field(field), action, value or None)
        operator = operators[index - 1] if 0 < index <= len(operators) else "and"
        if index == 0:
            result = outcome
        elif operator == "or":
            result = outcome or result
        else:
            result = outcome and result
    return result


def _field(name: str) -> str | int:
    return int(name, 0) if "0x" in name else name.strip()


def _action_holds(dataset: Dataset, field: str | int, action: str, value: str | None) -> bool:
    action = action.lower().strip()
    if action == "missing":
        return dataset.get(field) is None
    if action == "present":
        return dataset.get(field) is not None
    if action == "empty":
        return _empty(dataset, field)
    if action in ("equals", "notequals"):
        equal = any(text == str(value).lower().strip() for text in _texts(dataset, field))
        return equal if action == "equals" else not equal
    if action in ("contains", "notcontains"):
        pattern = str(value).lower().strip()
        found = any(re.search(pattern, text) for text in _texts(dataset, field))
        return found if action == "contains" else not found
    return False  # deid warns and answers False for an action it does not know


def _texts(dataset: Dataset, field: str | int) -> Iterator[str]:
    """A value as deid compares it: a list item by item, anything else (a multi-value too)
    whole, as `str()` lower-cased and stripped."""
    value = dataset.get(field)
    for item in value if isinstance(value, list) else [value]:
        if item is not None:
            yield str(item).lower().strip()


def _empty(dataset: Dataset, field: str | int) -> bool:
    if field not in dataset:
        return False
    content: Any = dataset.get(field)
    if not content:
        return True
    if hasattr(content, "_list"):  # a multi-value
        return len(content) == 0
    if isinstance(content, DataElement):
        content = content.value
    return bool(content == "")


def _rectangles(dataset: Dataset, coordinates: Iterable[list[Any]]) -> Iterator[str]:
    """The rectangles of a criterion; `from:FIELD` reads them from the header's ultrasound
    regions."""
    for _, rectangle in coordinates:
        if _FROM not in str(rectangle):
            yield str(rectangle)
            continue
        field = str(rectangle).replace(_FROM, "", 1)
        if field not in dataset:
            continue
        region = dataset.get(field)
        for entry in region if isinstance(region, Sequence) else [region]:
            if all(keyword in entry for keyword in _REGION):
                yield ",".join(str(entry.get(keyword)) for keyword in _REGION)
