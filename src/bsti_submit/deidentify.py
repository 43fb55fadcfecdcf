"""The de-identification engine: applies a compiled profile to one dataset in one pass.

Every element is looked up by tag in the profile's table; sequences are walked at every depth,
whether kept or unlisted. Each change is returned as a `Change` record for the audit log. Values
are only decoded for the elements a rule touches, so untouched elements (Pixel Data above all)
are written back byte for byte.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_VR, keyword_for_tag
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
# Text VRs whose bytes follow the Specific Character Set, and those always in the default one.
_ENCODED_TEXT_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
_TEXT_VRS = _ENCODED_TEXT_VRS | {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR"}
_PN_DELIMITERS = {0x5E, 0x3D}  # ^ and =: each component group may switch character set

Encodings = tuple[str, ...]


class Change(NamedTuple):
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


@lru_cache(maxsize=4096)
def _keyword(tag: int) -> str:
    """The dictionary keyword, or '' for private tags and tags newer than pydicom."""
    return str(keyword_for_tag(tag) or "")


def _vr_of(dataset: Dataset, tag: int) -> str:
    """An element's VR without decoding its value where the file or the dictionary says it."""
    vr = dataset.get_item(tag).VR or _dictionary_vr(tag)
    if vr is None or vr == "UN":  # unknown to the dictionary: decode to find out
        vr = dataset[tag].VR
    return str(vr)


@lru_cache(maxsize=64)
def _encodings_for(character_sets: tuple[str, ...]) -> Encodings:
    return tuple(convert_encodings(list(character_sets)))


def _encodings_of(dataset: Dataset) -> Encodings:
    """Python codecs for a dataset's Specific Character Set (the default repertoire if none)."""
    declared = dataset.get("SpecificCharacterSet") or "ISO_IR 6"
    values = (declared,) if isinstance(declared, str) else tuple(declared)
    return _encodings_for(values)


def _describe_stored(dataset: Dataset, tag: int, vr: str, encodings: Encodings) -> str:
    """`describe` of an element as read, decoding text straight from its bytes: much cheaper
    than pydicom's full conversion for the many short values a profile replaces."""
    raw = dataset.get_item(tag)
    if isinstance(raw, DataElement) or raw.value is None:
        return describe(dataset[tag])
    if vr in _BINARY_VRS:
        return f"<{len(raw.value)} bytes>"
    if vr not in _TEXT_VRS:
        return describe(dataset[tag])
    if vr in _ENCODED_TEXT_VRS:
        text = decode_bytes(raw.value, list(encodings), _PN_DELIMITERS if vr == "PN" else set())
    else:
        text = raw.value.decode("ascii", errors="replace")
    return text.rstrip(" \x00")


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

    def apply(self, dataset: Dataset) -> list[Change]:
        """De-identify `dataset` in place and return what changed, in dataset order."""
        changes: list[Change] = []
        self._walk(dataset, "", changes, _encodings_of(dataset))
        self._record_method(dataset, changes)
        self._rebuild_file_meta(dataset, changes)
        dataset.preamble = b"\x00" * 128  # a preamble can carry anything, even a TIFF header
        return changes

    def _walk(
        self, dataset: Dataset, prefix: str, changes: list[Change], encodings: Encodings
    ) -> None:
        if "SpecificCharacterSet" in dataset:  # an item may declare its own character set
            encodings = _encodings_of(dataset)
        for tag in list(dataset.keys()):
            rule = self.profile.rule_for(tag)
            if rule is None or rule.action is Action.KEEP:
                if _vr_of(dataset, tag) == "SQ":
                    for index, item in enumerate(dataset[tag].value):
                        self._walk(item, f"{prefix}{tag_text(tag)}[{index}].", changes, encodings)
                continue
            self._apply_rule(dataset, tag, rule, prefix, changes, encodings)

    def _apply_rule(
        self,
        dataset: Dataset,
        tag: int,
        rule: Rule,
        prefix: str,
        changes: list[Change],
        encodings: Encodings,
    ) -> None:
        vr = _vr_of(dataset, tag)
        old = _describe_stored(dataset, tag, vr, encodings)
        if rule.action is Action.REMOVE:
            del dataset[tag]
            new: str | None = None
        else:
            element = DataElement(tag, vr, self._new_value(rule, vr, old))
            dataset[tag] = element
            new = describe(element)
            if new == old:
                return
        changes.append(Change(prefix + tag_text(tag), _keyword(tag), vr, rule.action, old, new))

    def _new_value(self, rule: Rule, vr: str, old: str) -> Any:
        """The value a rule gives an element, from its VR and its old value as text."""
        if rule.action is Action.BLANK:
            return [] if vr == "SQ" else None
        if rule.action is Action.REPLACE:
            return rule.value
        if vr == "UI":  # a UID rule, or a dummy UID: a keyed UID, consistent everywhere
            return [self.pseudonyms.uid(uid) for uid in old.split("\\")] if old else None
        if vr == "SQ":
            return Sequence([Dataset()])
        if vr in _BINARY_VRS:
            return _BINARY_DUMMY
        return _DUMMY_BY_VR.get(vr, "ANONYMISED")

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
