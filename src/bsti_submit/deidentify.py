"""The de-identification engine: applies a compiled profile to one dataset in one pass.

Every element is looked up by tag in the profile's table; sequences are walked at every depth,
whether kept or unlisted. Each change is returned as a `Change` record for the audit log. Values
are only decoded for the elements a rule touches, so untouched elements (Pixel Data above all)
are written back byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import UID

from . import __version__
from .profile import Action, Profile, Rule
from .pseudonym import Pseudonymizer
from .standard import DEIDENTIFICATION_METHODS

# Our implementation's identity in the file meta: a fixed UUID-derived UID and a short name.
IMPLEMENTATION_CLASS_UID = UID("2.25.215346935453497014063413431637331371806")
IMPLEMENTATION_VERSION_NAME = f"BSTI_{__version__}"[:16]

_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_DUMMY_BY_VR: dict[str, Any] = {
    "AE": "ANONYMISED",
    "AS": "000D",
    "CS": "ANONYMISED",
    "DA": "19000101",
    "DS": "0",
    "DT": "19000101000000",
    "IS": "0",
    "LO": "ANONYMISED",
    "LT": "ANONYMISED",
    "PN": "ANONYMISED",
    "SH": "ANONYMISED",
    "ST": "ANONYMISED",
    "TM": "000000",
    "UC": "ANONYMISED",
    "UR": "urn:anonymised",
    "UT": "ANONYMISED",
    "AT": 0,
    "FD": 0.0,
    "FL": 0.0,
    "SL": 0,
    "SS": 0,
    "SV": 0,
    "UL": 0,
    "US": 0,
    "UV": 0,
}
_BINARY_DUMMY = b"\x00\x00"


@dataclass(frozen=True)
class Change:
    """One attribute changed in one instance, as the audit log records it."""

    path: str
    keyword: str
    vr: str
    action: str
    old: str
    new: str | None


@lru_cache(maxsize=4096)
def tag_text(tag: int) -> str:
    """`(gggg,eeee)` in upper-case hex."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


@lru_cache(maxsize=4096)
def _dictionary_vr(tag: int) -> str | None:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return None


def describe(element: DataElement) -> str:
    """A value as text for the audit log and reports; binary and sequence values as a size."""
    value = element.value
    if element.VR == "SQ":
        return f"<sequence of {len(value)} item(s)>"
    if element.VR in _BINARY_VRS or isinstance(value, bytes | bytearray):
        return f"<{len(value or b'')} bytes>"
    if value is None:
        return ""
    if isinstance(value, MultiValue | list):
        return "\\".join(str(item) for item in value)
    return str(value)


class Deidentifier:
    """Applies one compiled profile with one key. Reusable across any number of datasets."""

    def __init__(self, profile: Profile, pseudonyms: Pseudonymizer) -> None:
        self.profile = profile
        self.pseudonyms = pseudonyms
        self._handlers: dict[Action, Callable[[DataElement, Rule], None]] = {
            Action.BLANK: self._blank,
            Action.DUMMY: self._dummy,
            Action.UID: self._map_uids,
            Action.REPLACE: self._replace,
        }

    def apply(self, dataset: Dataset) -> list[Change]:
        """De-identify `dataset` in place and return what changed, in dataset order."""
        changes: list[Change] = []
        self._walk(dataset, "", changes)
        self._record_method(dataset, changes)
        self._rebuild_file_meta(dataset, changes)
        dataset.preamble = b"\x00" * 128  # a preamble can carry anything, even a TIFF header
        return changes

    def _walk(self, dataset: Dataset, prefix: str, changes: list[Change]) -> None:
        for tag in list(dataset.keys()):
            rule = self.profile.rule_for(tag)
            if rule is None or rule.action is Action.KEEP:
                if self._is_sequence(dataset, tag):
                    self._walk_items(dataset[tag], prefix + tag_text(tag), changes)
                continue
            self._apply_rule(dataset, tag, rule, prefix, changes)

    def _walk_items(self, sequence: DataElement, path: str, changes: list[Change]) -> None:
        for index, item in enumerate(sequence.value):
            self._walk(item, f"{path}[{index}].", changes)

    @staticmethod
    def _is_sequence(dataset: Dataset, tag: int) -> bool:
        vr = dataset.get_item(tag).VR or _dictionary_vr(tag)
        if vr is None or vr == "UN":  # unknown to the dictionary: decode to find out
            vr = dataset[tag].VR
        return vr == "SQ"

    def _apply_rule(
        self, dataset: Dataset, tag: int, rule: Rule, prefix: str, changes: list[Change]
    ) -> None:
        element = dataset[tag]
        old = describe(element)
        if rule.action is Action.REMOVE:
            del dataset[tag]
            new: str | None = None
        else:
            self._handlers[rule.action](element, rule)
            new = describe(element)
            if new == old:
                return
        changes.append(
            Change(prefix + tag_text(tag), element.keyword, element.VR, rule.action, old, new)
        )

    @staticmethod
    def _blank(element: DataElement, rule: Rule) -> None:
        element.value = [] if element.VR == "SQ" else None

    def _dummy(self, element: DataElement, rule: Rule) -> None:
        if element.VR == "UI":  # a UID dummy must still be a valid, consistent UID
            self._map_uids(element, rule)
        elif element.VR == "SQ":
            element.value = Sequence([Dataset()])
        elif element.VR in _BINARY_VRS:
            element.value = _BINARY_DUMMY
        else:
            element.value = _DUMMY_BY_VR.get(element.VR, "ANONYMISED")

    def _map_uids(self, element: DataElement, rule: Rule) -> None:
        if element.VR != "UI":  # a UID rule on another VR cannot map: fall back to a dummy
            element.value = _DUMMY_BY_VR.get(element.VR, _BINARY_DUMMY)
        elif isinstance(element.value, MultiValue):
            element.value = [self.pseudonyms.uid(str(uid)) for uid in element.value]
        elif element.value:
            element.value = self.pseudonyms.uid(str(element.value))

    @staticmethod
    def _replace(element: DataElement, rule: Rule) -> None:
        element.value = rule.value

    def _record_method(self, dataset: Dataset, changes: list[Change]) -> None:
        """PatientIdentityRemoved, DeidentificationMethod and its CID 7050 codes."""
        codes = Sequence()
        for code in self.profile.method_codes:
            item = Dataset()
            item.CodeValue = code
            item.CodingSchemeDesignator = "DCM"
            item.CodeMeaning = DEIDENTIFICATION_METHODS[code]
            codes.append(item)
        values: list[tuple[str, Any]] = [
            ("PatientIdentityRemoved", "YES"),
            ("DeidentificationMethod", f"bsti-submit {__version__} {self.profile.label}"),
            ("DeidentificationMethodCodeSequence", codes),
        ]
        for keyword, value in values:
            old = describe(dataset[keyword]) if keyword in dataset else ""
            setattr(dataset, keyword, value)
            element = dataset[keyword]
            changes.append(
                Change(tag_text(element.tag), keyword, element.VR, "SET", old, describe(element))
            )

    @staticmethod
    def _rebuild_file_meta(dataset: Dataset, changes: list[Change]) -> None:
        """A fresh file meta: only what Part 10 needs, naming the new instance and this tool."""
        old_meta = dataset.file_meta  # read_instance guarantees a transfer syntax
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = dataset.SOPClassUID
        meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        meta.TransferSyntaxUID = old_meta.TransferSyntaxUID
        meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
        meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
        for element in old_meta:
            if element.tag in (0x00020000, 0x00020001):
                continue
            new = describe(meta[element.tag]) if element.tag in meta else None
            old = describe(element)
            if new != old:
                action = "REMOVE" if new is None else "SET"
                changes.append(
                    Change(tag_text(element.tag), element.keyword, element.VR, action, old, new)
                )
        dataset.file_meta = meta
