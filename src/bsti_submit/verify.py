"""The fail-closed gate: every cleaned instance is checked before it may leave, independently of
the profile engine. An instance with any finding is quarantined, never written or sent.

A finding names the check and the kind of identifier (the attribute it came from), never the
identifier itself, so findings can be shown on screen and in summaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.dataset import Dataset

from .elements import (
    BINARY_VRS,
    TEXT_VRS,
    dictionary_vr,
    element_vr,
    keyword_of,
    leaves,
    stored_elements,
    tag_text,
)
from .identifiers import NHS_NUMBER_SOURCE, OriginalIdentifiers, date_spellings, nhs_numbers_in
from .profile import Action, Profile

_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_COLLAPSED_MIN = 6  # identifiers this long are also sought with all separators removed
_SEPARATORS = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Finding:
    """Why an instance may not leave: the check that failed and the kind of identifier."""

    check: str
    kind: str

    def __str__(self) -> str:
        return f"{self.check}: {self.kind}"


class Verifier:
    """Checks cleaned instances against what identified their originals."""

    def __init__(self, profile: Profile, local_id_pattern: str = "") -> None:
        self.profile = profile
        self.local_id = re.compile(local_id_pattern) if local_id_pattern else None
        self.dates_kept = "retain-long-full-dates" in profile.options
        self.uids_kept = "retain-uids" in profile.options

    def check(self, cleaned: Dataset, original: OriginalIdentifiers) -> list[Finding]:
        """Every finding for one cleaned instance; an empty list means it may leave."""
        text = _Haystack(cleaned)
        findings = self._residuals(text, original)
        findings += self._patterns(text)
        findings += self._structure(cleaned)
        return sorted(set(findings), key=str)

    def _residuals(self, text: _Haystack, original: OriginalIdentifiers) -> list[Finding]:
        findings = []
        for string, sources in original.strings.items():
            if self._searched(sources) and text.contains(string):
                findings.append(Finding("residual identifier", _kind(sources)))
        if not self.dates_kept:
            for day, sources in original.dates.items():
                if self._searched(sources) and any(map(text.contains, date_spellings(day))):
                    findings.append(Finding("residual identifier", f"date ({_kind(sources)})"))
        if not self.uids_kept:
            findings += [
                Finding("residual identifier", "original instance UID")
                for uid in original.uids
                if text.contains_uid(uid)
            ]
        return findings

    def _searched(self, sources: frozenset[int]) -> bool:
        """A value is sought unless every attribute it came from is one the profile keeps."""
        if NHS_NUMBER_SOURCE in sources:
            return True
        return not all(self._kept(tag) for tag in sources)

    def _kept(self, tag: int) -> bool:
        rule = self.profile.rule_for(tag)
        return rule is not None and rule.action is Action.KEEP

    def _patterns(self, text: _Haystack) -> list[Finding]:
        findings = []
        if any(nhs_numbers_in(value) for value in text.free_text):
            findings.append(Finding("NHS or CHI number", "10 digits with a valid check digit"))
        if self.local_id and any(self.local_id.search(value) for value in text.free_text):
            findings.append(Finding("hospital number", "the trust's hospital-number pattern"))
        return findings

    def _structure(self, cleaned: Dataset) -> list[Finding]:
        findings = []
        if cleaned.get("PatientIdentityRemoved") != "YES":
            findings.append(Finding("structure", "PatientIdentityRemoved is not YES"))
        for tag in _all_tags(cleaned):
            group = tag >> 16
            if group % 2 and not self._private_kept(cleaned, tag):
                findings.append(Finding("structure", f"private element {tag_text(tag)}"))
            elif group & 0xFF00 in (0x5000, 0x6000) and not self._kept(tag):
                findings.append(Finding("structure", f"curve or overlay group {group:04X}"))
            elif group % 2 == 0 and dictionary_vr(tag) is None and not self._kept(tag):
                # Damage, or an attribute newer than our dictionary: nobody can say whether
                # it identifies, so it does not leave unless a profile line keeps it.
                findings.append(Finding("structure", f"element {tag_text(tag)} unknown to DICOM"))
        return findings

    def _private_kept(self, dataset: Dataset, tag: int) -> bool:
        """Only private elements (and their creators) that a profile line keeps may remain."""
        element = tag & 0xFFFF
        if element < 0x1000:
            return 0x10 <= element <= 0xFF and self.profile.keeps_private
        creator = dataset.get(tag & 0xFFFF0000 | (element & 0xFF00) >> 8)
        rule = self.profile.private_rule_for(tag, str(creator.value) if creator else "")
        return rule is not None and rule.action is Action.KEEP


def _kind(sources: frozenset[int]) -> str:
    if NHS_NUMBER_SOURCE in sources:
        return "NHS or CHI number"
    names = sorted(keyword_of(tag) or tag_text(tag) for tag in sources)
    return names[0]


def _all_tags(dataset: Dataset) -> list[int]:
    tags = []
    for tag, element in list(stored_elements(dataset).items()):
        tags.append(int(tag))
        if element_vr(dataset, element) == "SQ":
            for item in dataset[tag].value:
                tags += _all_tags(item)
    return tags


class _Haystack:
    """Every text value of a cleaned instance at every depth, its binary values (all but the
    pixel data) read as text, and its file meta; searched case-insensitively with spaces, `^`
    and punctuation normalised."""

    def __init__(self, dataset: Dataset) -> None:
        self.values: list[str] = []
        self.free_text: list[str] = []  # all text but UIDs, where NHS numbers are sought
        self._read(dataset.file_meta)
        self._read(dataset)
        raw = "\n".join(self.values)
        self.raw = raw
        self.words = f" {_normalise(raw)} "
        self.collapsed = self.words.replace(" ", "")

    def _read(self, dataset: Dataset) -> None:
        for leaf in leaves(dataset):
            if leaf.vr in TEXT_VRS:
                value = leaf.text()
                self.values.append(value)
                if leaf.vr != "UI":
                    self.free_text.append(value)
            elif leaf.vr in BINARY_VRS and leaf.tag not in _PIXEL_TAGS:
                stored = bytes(leaf.dataset[leaf.tag].value or b"")
                for decoded in (stored.decode("latin-1"), stored.decode("utf-8", "replace")):
                    self.values.append(decoded)
                    self.free_text.append(decoded)

    def contains(self, identifier: str) -> bool:
        words = _normalise(identifier)
        if not words:
            return False
        if f" {words} " in self.words:
            return True
        collapsed = words.replace(" ", "")
        has_digit = any(character.isdigit() for character in collapsed)
        if len(collapsed) < _COLLAPSED_MIN or not has_digit or collapsed not in self.collapsed:
            return False
        # Confirm on word boundaries, separators optional inside: "RX-1234567" is the ID
        # RX1234567, but the digits of a date found across two UIDs are not a date.
        spread = " ?".join(re.escape(character) for character in collapsed)
        return re.search(f" {spread} ", self.words) is not None

    def contains_uid(self, uid: str) -> bool:
        start = self.raw.find(uid)
        while start != -1:
            before = self.raw[start - 1] if start else " "
            end = start + len(uid)
            after = self.raw[end] if end < len(self.raw) else " "
            if not (before.isdigit() or before == ".") and not (after.isdigit() or after == "."):
                return True
            start = self.raw.find(uid, start + 1)
        return False


def _normalise(text: str) -> str:
    return _SEPARATORS.sub(" ", text.upper()).strip()
