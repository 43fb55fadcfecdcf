"""Reading DICOM elements cheaply: VRs without decoding, stored text straight from its bytes.

pydicom decodes an element the first time it is touched, which costs far more than the few bytes
it holds. The engine and the identifier collector touch many elements only to read them as text,
so they read them here.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
# Text VRs whose bytes follow the Specific Character Set, and those always in the default one.
ENCODED_TEXT_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})
TEXT_VRS = ENCODED_TEXT_VRS | {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR"}
_PN_DELIMITERS = {0x5E, 0x3D}  # ^ and =: each component group may switch character set

Encodings = tuple[str, ...]


@lru_cache(maxsize=4096)
def tag_text(tag: int) -> str:
    """`(gggg,eeee)` in upper-case hex."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def parse_tag(text: str) -> int:
    """The tag written `(gggg,eeee)` at the start of `text`."""
    return int(text[1:5] + text[6:10], 16)


def is_private_creator(tag: int) -> bool:
    """A private creator element: (gggg,00xx) of an odd group reserves the block (gggg,xx00)."""
    return bool(tag >> 16 & 1) and 0x10 <= tag & 0xFFFF <= 0xFF


def creator_of(tag: int) -> int:
    """The tag of the private creator element that reserves a private element's block."""
    return tag & 0xFFFF0000 | (tag & 0xFF00) >> 8


@lru_cache(maxsize=4096)
def dictionary_vr(tag: int) -> str | None:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return None


@lru_cache(maxsize=4096)
def keyword_of(tag: int) -> str:
    """The dictionary keyword, or '' for private tags and tags newer than pydicom."""
    return str(keyword_for_tag(tag) or "")


Stored = DataElement | RawDataElement


def stored_elements(dataset: Dataset) -> dict[int, Stored]:
    """A dataset's elements by tag as they are now, read (raw bytes, or a deferred value still
    in the file) or decoded. pydicom's public accessors decode or load each one they return,
    so this reads the map behind them, which every pydicom 3 dataset has."""
    return dataset._dict  # type: ignore[return-value]


def vr_of(dataset: Dataset, tag: int) -> str:
    """An element's VR without decoding its value where the file or the dictionary says it."""
    return element_vr(dataset, dataset.get_item(tag, keep_deferred=True))


def element_vr(dataset: Dataset, element: Stored) -> str:
    """`vr_of` for an element in hand."""
    vr = element.VR or dictionary_vr(element.tag)
    if vr is None or vr == "UN":  # unknown to the dictionary: decode to find out
        vr = dataset[element.tag].VR
    return str(vr)


@lru_cache(maxsize=64)
def _encodings_for(character_sets: tuple[str, ...]) -> Encodings:
    return tuple(convert_encodings(list(character_sets)))


def encodings_of(dataset: Dataset) -> Encodings:
    """Python codecs for a dataset's Specific Character Set (the default repertoire if none)."""
    declared = dataset.get("SpecificCharacterSet") or "ISO_IR 6"
    values = (declared,) if isinstance(declared, str) else tuple(declared)
    return _encodings_for(values)


def stored_text(dataset: Dataset, tag: int, vr: str, encodings: Encodings) -> str:
    """`describe` of an element as read, decoding text straight from its bytes: much cheaper
    than pydicom's full conversion for the many short values a profile replaces."""
    return element_text(dataset, dataset.get_item(tag, keep_deferred=True), vr, encodings)


def element_text(dataset: Dataset, raw: Stored, vr: str, encodings: Encodings) -> str:
    """`stored_text` for an element in hand."""
    if isinstance(raw, DataElement) or raw.value is None:
        return describe(dataset[raw.tag])
    if vr in BINARY_VRS:
        return f"<{len(raw.value)} bytes>"
    if vr not in TEXT_VRS:
        return describe(dataset[raw.tag])
    if vr in ENCODED_TEXT_VRS:
        text = decode_bytes(raw.value, list(encodings), _PN_DELIMITERS if vr == "PN" else set())
    else:
        text = raw.value.decode("ascii", errors="replace")
    return text.rstrip(" \x00")


@lru_cache(maxsize=256)
def tag_for(keyword: str) -> int | None:
    """The tag of a dictionary keyword; None for a name the dictionary does not know."""
    return tag_for_keyword(keyword)


def stored_form(dataset: Dataset, tag: int) -> bytes | str | None:
    """An element's value as stored (bytes), or as text if it was decoded already, without
    decoding anything: enough to tell two headers' values apart, for caching."""
    if tag not in dataset:
        return None
    value = dataset.get_item(tag, keep_deferred=True).value
    return value if isinstance(value, bytes) else str(value)


def header_text(dataset: Dataset, keyword: str) -> str:
    """A top-level attribute as stored text ('' when absent), without decoding it: reading a
    value through pydicom would leave it decoded, to be encoded again on writing."""
    tag = tag_for(keyword)
    if tag is None or tag not in dataset:
        return ""
    return stored_text(dataset, tag, vr_of(dataset, tag), encodings_of(dataset))


def describe(element: DataElement) -> str:
    """A value as text for the audit log and reports; binary and sequence values as a size."""
    value = element.value
    if element.VR == "SQ":
        return f"<sequence of {len(value)} item(s)>"
    if element.VR in BINARY_VRS or isinstance(value, bytes | bytearray):
        return f"<{len(value or b'')} bytes>"
    if value is None:
        return ""
    if isinstance(value, MultiValue | list):
        return "\\".join(str(item) for item in value)
    return str(value)


class Leaf(NamedTuple):
    """One element that is not a sequence, where it sits, and how to read its text."""

    dataset: Dataset
    element: Stored
    vr: str
    encodings: Encodings

    @property
    def tag(self) -> int:
        return int(self.element.tag)

    def text(self) -> str:
        return element_text(self.dataset, self.element, self.vr, self.encodings)


def leaves(dataset: Dataset, encodings: Encodings | None = None) -> Iterator[Leaf]:
    """Every element that is not a sequence, at every depth, without decoding any value; an
    item's own Specific Character Set applies to it and below."""
    if encodings is None or "SpecificCharacterSet" in dataset:
        encodings = encodings_of(dataset)
    elements = stored_elements(dataset)
    for tag, element in list(elements.items()):
        vr = element_vr(dataset, element)
        if vr == "SQ":
            for item in dataset[tag].value:
                yield from leaves(item, encodings)
        else:  # as it is now: finding the VR may have decoded it
            yield Leaf(dataset, elements[tag], vr, encodings)
