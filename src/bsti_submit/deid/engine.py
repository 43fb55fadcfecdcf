"""The de-identification engine: applies a compiled profile to one dataset in one pass.

Every element is looked up by tag in the profile's table; sequences are walked at every depth,
whether kept or unlisted. Each change is returned as a `Change` record for the audit log. Values
are only decoded for the elements a rule touches, so untouched elements (Pixel Data above all)
are written back byte for byte.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any, NamedTuple

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID

from .. import __version__
from ..dicomio.elements import (
    BINARY_VRS,
    ENCODED_TEXT_VRS,
    Encodings,
    creator_of,
    describe,
    dictionary_vr,
    element_vr,
    encodings_of,
    is_private_creator,
    keyword_of,
    stored_elements,
    stored_text,
    tag_text,
    vr_of,
)
from ..errors import ConfigError, NotAnInstanceError
from ..records import Change, PatientLink
from . import dates
from .finder import Finder
from .identifiers import (
    PIXEL_TAGS,
    SEARCHED_BINARY_VRS,
    SEARCHED_VRS,
    TECHNICAL_TAGS,
    OriginalIdentifiers,
    collect,
    parse_da,
)
from .profile import Action, Profile, Rule
from .pseudonym import Pseudonymizer
from .standard import method_code_item

# Our implementation's identity in the file meta: a fixed UUID-derived UID and a short name.
IMPLEMENTATION_CLASS_UID = UID("2.25.215346935453497014063413431637331371806")
IMPLEMENTATION_VERSION_NAME = f"BSTI_{__version__}"[:16]

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
_CLEANABLE_VRS = ENCODED_TEXT_VRS | {"CS", "AE"}
_LETTER = re.compile(r"[A-Za-z]")
_SINGLE_VALUED_VRS = frozenset({"LT", "ST", "UT", "UR"})
# A code item stays valid when its text is scrubbed: CodeValue and CodeMeaning are never left
# empty, nor a CodingSchemeDesignator without letters (a local 99SNGH becomes 99LOCAL).
_CODING_SCHEME_DESIGNATOR = 0x00080102
_CODE_ITEM_FALLBACK = {0x00080100: "ANONYMISED", 0x00080102: "99LOCAL", 0x00080104: "ANONYMISED"}
_FINDERS_CACHED = 256
SCRUB = "SCRUB"  # the audit log's name for text cleaned of identifiers after the profile's rules
# Rules under which a sequence is kept and its items walked.
_WALKED_ACTIONS = frozenset({Action.KEEP, Action.CLEAN, Action.SHIFT_DATE})
# Dates that tell the age at the study, in order of preference.
_STUDY_DATES = ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")
_REMOVE = object()  # a value that means: remove the element after all
_META_ENCODINGS = ("iso8859",)  # the file meta is always in the default repertoire


class Deidentified(NamedTuple):
    """What `Deidentifier.apply` did to one dataset."""

    changes: list[Change]
    patient: PatientLink | None


class Deidentifier:
    """Applies one compiled profile with one key (and the trust's site code, for profiles that
    give pseudonyms). Reusable across any number of datasets."""

    def __init__(
        self,
        profile: Profile,
        pseudonyms: Pseudonymizer,
        site: str = "",
        local_id_pattern: str = "",
    ) -> None:
        if profile.needs_site and not site:
            raise ConfigError(
                f"profile {profile.name} gives site-prefixed pseudonyms but no site code is set: "
                "run `bsti-submit init --site CODE` or pass --site CODE"
            )
        self.profile = profile
        self.pseudonyms = pseudonyms
        self.site = site
        self._method_code_items = _method_code_items(profile)
        self.local_id = re.compile(local_id_pattern) if local_id_pattern else None
        self._finders: dict[tuple[object, ...], Finder] = {}

    def finder_for(self, original: OriginalIdentifiers) -> Finder:
        """The finder for a header's identifiers; the files of a series share one."""
        key = original.key()
        finder = self._finders.get(key)
        if finder is None:
            if len(self._finders) >= _FINDERS_CACHED:  # a long backfill: memory stays bounded
                self._finders.clear()
            finder = self._finders[key] = Finder(original, self.profile.seeks, self.local_id)
        return finder

    def apply(
        self, dataset: Dataset, identifiers: OriginalIdentifiers | None = None
    ) -> Deidentified:
        """De-identify `dataset` (as read by `discover.read_instance`) in place. `identifiers`
        are its original identifying values, when the caller has collected them already."""
        run = _Run(self, dataset, identifiers)
        run.walk(dataset, "", encodings_of(dataset))
        run.add_attributes(dataset)
        _add_required_empties(dataset, run.changes)
        _record_method(dataset, self.profile, self._method_code_items, run.changes)
        _rebuild_file_meta(dataset, run.changes)
        dataset.preamble = b"\x00" * 128  # a preamble can carry anything, even a TIFF header
        return Deidentified(run.changes, run.patient_link())


class _Run:
    """De-identifies one dataset: what its rules need from the original header is read once,
    before anything changes."""

    def __init__(
        self, engine: Deidentifier, dataset: Dataset, identifiers: OriginalIdentifiers | None
    ) -> None:
        self.profile = engine.profile
        self.pseudonyms = engine.pseudonyms
        self.site = engine.site
        self.changes: list[Change] = []
        self.patient_id = str(dataset.get("PatientID") or "").strip()
        self.issuer = str(dataset.get("IssuerOfPatientID") or "").strip()
        self.birth_date = parse_da(str(dataset.get("PatientBirthDate") or ""))
        self.study_date = next(
            (day for keyword in _STUDY_DATES if (day := parse_da(str(dataset.get(keyword) or "")))),
            None,
        )
        if identifiers is None:
            identifiers = collect(dataset)
        self.finder = engine.finder_for(identifiers)
        self.uids = [uid for uid, tags in identifiers.uids.items() if engine.profile.seeks(tags)]
        if self.profile.needs_patient_id and not self.patient_id:
            raise NotAnInstanceError("no Patient ID, so no pseudonym can be given")

    def patient_link(self) -> PatientLink:
        return PatientLink(
            self.pseudonym, self.issuer, self.patient_id, sent=self.profile.needs_patient_id
        )

    @property
    def pseudonym(self) -> str:
        return self.pseudonyms.patient(self.site, self.issuer, self.patient_id)

    def walk(self, dataset: Dataset, prefix: str, encodings: Encodings) -> None:
        if "SpecificCharacterSet" in dataset:  # an item may declare its own character set
            encodings = encodings_of(dataset)
        creators = []
        for tag, element in list(stored_elements(dataset).items()):
            if is_private_creator(tag):
                creators.append(tag)
                continue
            rule = self._rule(dataset, tag)
            action = rule.action if rule else Action.KEEP
            vr = element_vr(dataset, element)
            if action in _WALKED_ACTIONS and vr == "SQ":
                for index, item in enumerate(dataset[tag].value):
                    self.walk(item, f"{prefix}{tag_text(tag)}[{index}].", encodings)
            elif rule is not None and action is not Action.KEEP:
                self._apply(dataset, tag, rule, prefix, encodings)
            elif tag not in PIXEL_TAGS:
                self._scrub(dataset, tag, vr, prefix, encodings)
        for tag in creators:  # a creator stays while its block keeps an element
            rule = self.profile.rule_for(tag)
            if rule is not None and not _block_in_use(dataset, tag):
                self._apply(dataset, tag, rule, prefix, encodings)

    def _rule(self, dataset: Dataset, tag: int) -> Rule | None:
        if self.profile.private_by_creator and tag >> 16 & 1 and tag & 0xFFFF >= 0x1000:
            creator = dataset.get(creator_of(tag))
            return self.profile.private_rule_for(tag, str(creator.value) if creator else "")
        return self.profile.rule_for(tag)

    def _apply(
        self, dataset: Dataset, tag: int, rule: Rule, prefix: str, encodings: Encodings
    ) -> None:
        vr = vr_of(dataset, tag)
        old = stored_text(dataset, tag, vr, encodings)
        action = rule.action
        readable = self._readable(dataset, tag, old) if action is Action.CLEAN else old
        value = None if action is Action.REMOVE else self._new_value(rule, vr, readable)
        if value is _REMOVE:
            action = Action.REMOVE
        if action is Action.REMOVE:
            del dataset[tag]
            new: str | None = None
        else:
            element = DataElement(tag, vr, value)
            dataset[tag] = element
            new = describe(element)
            if new == old:
                return
        self.changes.append(Change(prefix + tag_text(tag), keyword_of(tag), vr, action, old, new))

    def _new_value(self, rule: Rule, vr: str, old: str) -> Any:
        """The value a rule gives an element, from its VR and its old value as text."""
        action = rule.action
        if action is Action.BLANK or (action is not Action.REPLACE and not old):
            return [] if vr == "SQ" else None
        if action is Action.REPLACE:
            return rule.value
        if action is Action.PSEUDONYM:
            return self.pseudonym
        if action is Action.SHIFT_DATE:
            return dates.shift(vr, old, self.date_shift)
        if action is Action.CLEAN:
            return self._cleaned(vr, old)
        return self._dummy(vr, old)

    @cached_property
    def date_shift(self) -> int:
        return self.pseudonyms.date_shift_days(self.issuer, self.patient_id)

    def _cleaned(self, vr: str, old: str) -> Any:
        if vr not in _CLEANABLE_VRS:
            return _REMOVE  # nothing to clean it with: fail safe
        return self._clean_text(old) or None

    def _clean_text(self, text: str, technical: bool = False) -> str:
        """Text without any identifier the finder knows, nor an original instance UID;
        `technical` for the value of a technical attribute (see `Finder`)."""
        for uid in self.uids:
            if uid in text:
                text = text.replace(uid, " ")
        return self.finder.clean(text, technical)

    def _scrub(
        self, dataset: Dataset, tag: int, vr: str, prefix: str, encodings: Encodings
    ) -> None:
        """Clean a value the profile kept of whatever the gate would find in it: text is
        cleaned (a code item keeps a value), other values holding an identifier are removed."""
        if vr in SEARCHED_VRS:
            old = stored_text(dataset, tag, vr, encodings)
            text, technical = self._readable(dataset, tag, old), tag in TECHNICAL_TAGS
            values = [text] if vr in _SINGLE_VALUED_VRS else text.split("\\")
            new = "\\".join(self._clean_text(value, technical) for value in values)
            if new == old:
                return
            new = _valid_in_a_code_item(tag, new)
            dataset[tag] = DataElement(tag, vr, new or None)
        elif vr in SEARCHED_BINARY_VRS:
            stored = dataset.get_item(tag, keep_deferred=True).value
            if not isinstance(stored, bytes) or not self._identifies(stored):
                return
            old, new = f"<{len(stored)} bytes>", None
            del dataset[tag]
        else:
            return
        self.changes.append(Change(prefix + tag_text(tag), keyword_of(tag), vr, SCRUB, old, new))

    def _readable(self, dataset: Dataset, tag: int, declared: str) -> str:
        """A text value as read in its declared character set or, when it was stored in
        another (UTF-8 bytes in a Latin-1 file) and only read that way holds an identifier,
        as read that way: that is the text to clean."""
        stored = dataset.get_item(tag, keep_deferred=True).value
        if not isinstance(stored, bytes) or stored.isascii() or self._holds_identifier(declared):
            return declared
        for codec in _CODECS:
            text = _decoded(stored, codec).rstrip(" \x00")
            if text != declared and self._holds_identifier(text):
                return text
        return declared

    def _identifies(self, value: bytes) -> bool:
        """Whether bytes hold an identifier as text in any common encoding."""
        return any(self._holds_identifier(_decoded(value, codec)) for codec in _CODECS)

    def _holds_identifier(self, text: str) -> bool:
        return any(uid in text for uid in self.uids) or bool(self.finder.find(text))

    def _dummy(self, vr: str, old: str) -> Any:
        if vr == "UI":  # a UID rule, or a dummy UID: a keyed UID, consistent everywhere
            return [self.pseudonyms.uid(uid) for uid in old.split("\\")]
        if vr == "SQ":
            return Sequence([Dataset()])
        if vr in BINARY_VRS:
            return _BINARY_DUMMY
        return _DUMMY_BY_VR.get(vr, "ANONYMISED")

    def add_attributes(self, dataset: Dataset) -> None:
        """The profile's ADD lines, on the cleaned top-level dataset."""
        for addition in self.profile.additions:
            value = self._added_value(dataset, addition.value)
            if value is None:
                continue
            keyword = keyword_of(addition.tag)
            present = addition.tag in dataset
            old = describe(dataset[addition.tag]) if present else ""
            if present and old == value:
                continue
            vr = str(dictionary_vr(addition.tag))
            dataset[addition.tag] = DataElement(addition.tag, vr, value)
            self.changes.append(Change(tag_text(addition.tag), keyword, vr, "ADD", old, value))

    def _added_value(self, dataset: Dataset, value: str) -> str | None:
        if value == "func:patient_pseudonym":
            return self.pseudonym
        if value == "func:site_code":
            return self.site
        if value == "func:patient_age":
            if dataset.get("PatientAge") or not (self.birth_date and self.study_date):
                return None
            return dates.age_string(self.birth_date, self.study_date)
        return value


def _add_required_empties(dataset: Dataset, changes: list[Change]) -> None:
    """Responsible Person and Organization, removed by Table E.1-1 (X), are Type 2C in the
    Patient module: required, empty or not, when the patient is an animal. Empty, they say
    nothing and keep the object valid."""
    if not any(keyword in dataset for keyword in _ANIMAL_PATIENT):
        return
    for tag in _ANIMAL_PATIENT_TYPE_2C:
        if tag not in dataset:
            vr = str(dictionary_vr(tag))
            dataset[tag] = DataElement(tag, vr, "")
            changes.append(Change(tag_text(tag), keyword_of(tag), vr, "ADD", "", ""))


def _valid_in_a_code_item(tag: int, text: str) -> str:
    """A cleaned CodeValue, CodingSchemeDesignator or CodeMeaning that still makes a code."""
    fallback = _CODE_ITEM_FALLBACK.get(tag)
    meaningful = _LETTER.search(text) if tag == _CODING_SCHEME_DESIGNATOR else text.strip()
    return fallback if fallback is not None and not meaningful else text


_ANIMAL_PATIENT = ("PatientSpeciesDescription", "PatientSpeciesCodeSequence")
_ANIMAL_PATIENT_TYPE_2C = (0x00102297, 0x00102299)  # Responsible Person, Organization

_CODECS = ("latin-1", "utf-8", "utf-16-le", "utf-16-be")


def _decoded(value: bytes, codec: str) -> str:
    """Bytes as text in one codec, whatever they hold (UTF-16 reads an even number)."""
    return (value[: len(value) & ~1] if "16" in codec else value).decode(codec, "replace")


def _block_in_use(dataset: Dataset, creator_tag: int) -> bool:
    group, block = creator_tag >> 16, creator_tag & 0xFF
    tags = dataset.keys()  # iterating the dataset itself would decode every value
    return any(tag >> 16 == group and (tag & 0xFF00) >> 8 == block for tag in tags)


def _method_code_items(profile: Profile) -> tuple[Dataset, ...]:
    """The items of DeidentificationMethodCodeSequence, made once: every instance shares them
    (they are only ever read)."""
    return tuple(method_code_item(code) for code in profile.method_codes)


def _record_method(
    dataset: Dataset, profile: Profile, code_items: tuple[Dataset, ...], changes: list[Change]
) -> None:
    """PatientIdentityRemoved, DeidentificationMethod and its CID 7050 codes."""
    values: list[tuple[str, Any]] = [
        ("PatientIdentityRemoved", "YES"),
        ("DeidentificationMethod", f"bsti-submit {__version__} {profile.label}"),
        ("DeidentificationMethodCodeSequence", Sequence(code_items)),
    ]
    for keyword, value in values:
        old = describe(dataset[keyword]) if keyword in dataset else ""
        setattr(dataset, keyword, value)
        element = dataset[keyword]
        changes.append(
            Change(tag_text(element.tag), keyword, element.VR, "SET", old, describe(element))
        )


_META_VRS = {
    0x00020002: "UI",
    0x00020003: "UI",
    0x00020010: "UI",
    0x00020012: "UI",
    0x00020013: "SH",
}


def _rebuild_file_meta(dataset: Dataset, changes: list[Change]) -> None:
    """A fresh file meta: only what Part 10 needs, naming the new instance and this tool."""
    old_meta = dataset.file_meta  # read_instance guarantees a transfer syntax
    values = {
        0x00020002: dataset.SOPClassUID,
        0x00020003: dataset.SOPInstanceUID,
        0x00020010: old_meta.TransferSyntaxUID,
        0x00020012: IMPLEMENTATION_CLASS_UID,
        0x00020013: IMPLEMENTATION_VERSION_NAME,
    }
    meta = FileMetaDataset()
    for tag, value in values.items():
        meta[tag] = DataElement(tag, _META_VRS[tag], value)
    for tag in old_meta.keys():  # noqa: SIM118 - iterating a Dataset decodes every value
        if tag in (0x00020000, 0x00020001):
            continue
        vr = vr_of(old_meta, tag)
        old = stored_text(old_meta, tag, vr, _META_ENCODINGS)
        new = str(values[tag]) if tag in values else None
        if new != old:
            action = "REMOVE" if new is None else "SET"
            changes.append(Change(tag_text(tag), keyword_of(tag), vr, action, old, new))
    dataset.file_meta = meta
