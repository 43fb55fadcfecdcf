"""The identifying values of an original header, and text cleaned of them.

Clean Descriptors keeps a description only after removing every identifier known from the same
file's original header and anything shaped like an NHS or CHI number. The verification gate
searches cleaned files for the same values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property, lru_cache

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

from .elements import leaves

# Attributes whose values identify the patient, the visit or the trust, besides every person
# name (PN) and every date, which are collected at any depth.
IDENTIFYING_KEYWORDS = frozenset(
    {
        "PatientID",
        "OtherPatientIDs",
        "AccessionNumber",
        "StudyID",
        "RequestedProcedureID",
        "ScheduledProcedureStepID",
        "PerformedProcedureStepID",
        "AdmissionID",
        "MedicalRecordLocator",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "InstitutionName",
        "InstitutionAddress",
        "InstitutionalDepartmentName",
        "StationName",
        "DeviceSerialNumber",
        "PatientInsurancePlanCodeSequence",
    }
)
_IDENTIFYING_TAGS = frozenset(tag_for_keyword(keyword) for keyword in IDENTIFYING_KEYWORDS)
_DATE_FORMATS = (
    "%Y%m%d",
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%d/%m/%y",
    "%d %b %Y",
    "%d %B %Y",
)
_MIN_NAME_PART = 2
_FREE_TEXT_VRS = frozenset({"LO", "LT", "SH", "ST", "UT", "UC"})
_READ_VRS = _FREE_TEXT_VRS | {"PN", "DA", "DT", "UI"}
_DICOM_UID_ROOT = "1.2.840.10008."
# Ten digits, as one run or grouped 3-3-4 with spaces or dashes, not inside a longer number.
_NHS_SHAPE = re.compile(r"(?<![0-9])([0-9]{3})[ -]?([0-9]{3})[ -]?([0-9]{4})(?![0-9])")


def nhs_check_digit(first_nine: str) -> int | None:
    """The NHS (and CHI) mod-11 check digit of nine digits; None when there is none (10)."""
    total = sum(
        int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1), strict=True)
    )
    check = (11 - total % 11) % 11
    return None if check == 10 else check


def nhs_check_digit_valid(digits: str) -> bool:
    """Whether ten digits carry a valid NHS (and CHI) check digit."""
    return nhs_check_digit(digits[:9]) == int(digits[9])


def nhs_numbers_in(text: str) -> list[str]:
    """Every NHS- or CHI-shaped number in a text (valid check digit), as found."""
    return [
        found.group(0)
        for found in _NHS_SHAPE.finditer(text)
        if nhs_check_digit_valid("".join(found.groups()))
    ]


@lru_cache(maxsize=4096)
def date_spellings(day: date) -> frozenset[str]:
    """The ways a date is commonly written in a free-text field."""
    spellings = {day.strftime(pattern) for pattern in _DATE_FORMATS}
    spellings.add(f"{day.day}/{day.month}/{day.year}")
    return frozenset(spellings)


def parse_da(value: str) -> date | None:
    """A DA value (or the date part of a DT) as a date, or None when it is not a full date."""
    text = value.strip()[:8]
    try:
        if len(text) == 8 and text.isascii() and text.isdigit():  # the usual case, 10x faster
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


NHS_NUMBER_SOURCE = 0  # the "tag" of an NHS-shaped number found inside free text


@dataclass(frozen=True)
class OriginalIdentifiers:
    """What identifies the patient in one original header, each with the tags it came from:
    strings, dates and the instance UIDs."""

    strings: dict[str, frozenset[int]]
    dates: dict[date, frozenset[int]]
    uids: frozenset[str] = frozenset()

    @cached_property
    def spellings(self) -> list[str]:
        """Every string to look for, longest first, so that a longer match wins."""
        found = set(self.strings)
        for day in self.dates:
            found |= date_spellings(day)
        return sorted(found, key=len, reverse=True)

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        return _pattern_for(tuple(self.spellings)) if self.spellings else None

    def clean(self, text: str) -> str:
        """`text` without any of these identifiers or NHS/CHI-shaped numbers, tidied."""
        if self._pattern is not None:
            text = self._pattern.sub(" ", text)
        text = _NHS_SHAPE.sub(
            lambda found: " " if nhs_check_digit_valid("".join(found.groups())) else found[0],
            text,
        )
        return _tidy(text)


@lru_cache(maxsize=256)
def _pattern_for(spellings: tuple[str, ...]) -> re.Pattern[str]:
    """One regex for all of a header's identifiers; the files of a series share theirs."""
    alternatives = "|".join(_bounded(spelling) for spelling in spellings)
    return re.compile(alternatives, re.IGNORECASE)


def _bounded(spelling: str) -> str:
    """A regex for a spelling that does not match inside a longer word or number."""
    escaped = re.escape(spelling)
    start = r"(?<!\w)" if spelling[0].isalnum() else ""
    end = r"(?!\w)" if spelling[-1].isalnum() else ""
    return f"{start}{escaped}{end}"


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:)])", r"\1", text)
    text = re.sub(r"([(])\s+", r"\1", text)
    return text.strip(" ,;:-")


def collect(dataset: Dataset) -> OriginalIdentifiers:
    """The identifying values of an original dataset, at every depth: name components of two
    letters or more, the values of IDENTIFYING_KEYWORDS (and their comma-separated parts), NHS
    numbers anywhere in text, every date and every UID that is not DICOM's own."""
    found = _Found({}, {}, set())
    for leaf in leaves(dataset):
        if leaf.vr in _READ_VRS or leaf.tag in _IDENTIFYING_TAGS:
            values = [value for value in leaf.text().split("\\") if value]
            _note(leaf.tag, leaf.vr, values, found)
    strings = {
        string: frozenset(tags)
        for string, tags in found.strings.items()
        if len(string) >= _MIN_NAME_PART
    }
    dates = {day: frozenset(tags) for day, tags in found.dates.items()}
    return OriginalIdentifiers(strings, dates, frozenset(found.uids))


@dataclass
class _Found:
    strings: dict[str, set[int]]
    dates: dict[date, set[int]]
    uids: set[str]

    def add(self, tag: int, strings: Iterable[str] = (), dates: Iterable[date] = ()) -> None:
        for string in strings:
            self.strings.setdefault(string, set()).add(tag)
        for day in dates:
            self.dates.setdefault(day, set()).add(tag)


def _note(tag: int, vr: str, values: list[str], found: _Found) -> None:
    if vr == "PN":
        found.add(tag, strings=_name_parts(values))
    elif vr in ("DA", "DT"):
        found.add(tag, dates=[day for day in map(parse_da, values) if day])
    elif vr == "UI":
        found.uids |= {uid for uid in values if not uid.startswith(_DICOM_UID_ROOT)}
    elif tag in _IDENTIFYING_TAGS:
        for value in values:
            found.add(tag, strings=[value, *(part.strip() for part in value.split(","))])
    if vr in _FREE_TEXT_VRS:
        for value in values:
            found.add(NHS_NUMBER_SOURCE, strings=nhs_numbers_in(value))


def _name_parts(names: list[str]) -> set[str]:
    parts: set[str] = set()
    for name in names:
        for group in name.split("="):  # alphabetic, ideographic and phonetic forms
            # family, given and middle names; prefixes and suffixes (DR, MR) identify nobody
            components = group.split("^")[:3]
            parts |= {part.strip() for part in components if len(part.strip()) >= _MIN_NAME_PART}
    return parts
