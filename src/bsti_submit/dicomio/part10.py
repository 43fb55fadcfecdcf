"""Writing a cleaned instance as a Part 10 file, fast.

pydicom's writer re-encodes every element through several layers of Python, which costs more
than reading the file did. Most elements of a cleaned instance are untouched: they still hold
the bytes they were read with, in the transfer syntax they are written in, so they are copied
out with a header in front. Only elements the engine changed, and datasets whose encoding or
character set differ from what they were read with, go through pydicom's own writer. The bytes
are the same as `Dataset.save_as(..., enforce_file_format=True)` writes (tested).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import BinaryIO

from pydicom.charset import convert_encodings, default_encoding, encode_string
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset, validate_file_meta
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_dataset
from pydicom.multival import MultiValue
from pydicom.tag import _LUT_DESCRIPTOR_TAGS
from pydicom.uid import DeflatedExplicitVRLittleEndian
from pydicom.valuerep import PersonName

from .elements import stored_elements

UNDEFINED_LENGTH = 0xFFFFFFFF
_META_GROUP_LENGTH = 0x00020000
_LONG_LENGTH_VRS = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
)
# Text VRs encoded with the Specific Character Set, those always in the default repertoire, and
# the struct formats of binary numbers (as pydicom's writers have them).
_ENCODED_TEXT_VRS = frozenset({"LO", "LT", "SH", "ST", "UC", "UT"})
_PLAIN_TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "TM", "UI", "UR"})
_PADDED_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW"})
_NUMBER_FORMATS = {
    "FD": "d",
    "FL": "f",
    "SL": "l",
    "SS": "h",
    "SV": "q",
    "UL": "L",
    "US": "H",
    "UV": "Q",
}
_LONG_LENGTH, _SHORT_LENGTH = struct.Struct("<I"), struct.Struct("<H")
_ITEM = struct.pack("<HH", 0xFFFE, 0xE000)
_ITEM_END = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
_SEQUENCE_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)

Encodings = str | list[str]


def fast_path_applies(dataset: Dataset) -> bool:
    """Little-endian, not deflated: what nearly every file is. Others go to pydicom whole."""
    syntax = dataset.file_meta.TransferSyntaxUID
    return syntax.is_little_endian and syntax != DeflatedExplicitVRLittleEndian


def write_part10(dataset: Dataset, handle: BinaryIO) -> None:
    """Preamble, prefix, file meta and dataset, as pydicom writes them with
    `enforce_file_format=True`; the caller has checked `fast_path_applies`."""
    implicit = dataset.file_meta.TransferSyntaxUID.is_implicit_VR
    if any(tag >> 16 in (0, 2) for tag in dataset.keys()):  # noqa: SIM118
        raise ValueError("command or file meta elements (0000/0002,eeee) inside the dataset")
    handle.write(dataset.preamble or b"\x00" * 128)
    handle.write(b"DICM")
    handle.write(_file_meta_bytes(dataset.file_meta))
    for part in _dataset_parts(dataset, implicit, default_encoding):
        handle.write(part)


def _file_meta_bytes(file_meta: FileMetaDataset) -> bytes:
    """The file meta group as pydicom writes it: completed and checked by pydicom's own rules,
    then its group length and its elements, explicit VR little endian."""
    validate_file_meta(file_meta, enforce_standard=True)
    body = b"".join(
        _element_bytes(file_meta.get_item(tag), False, default_encoding)
        for tag in sorted(file_meta.keys())
        if tag != _META_GROUP_LENGTH
    )
    return _header(_META_GROUP_LENGTH, "UL", 4, False) + struct.pack("<I", len(body)) + body


def _dataset_parts(dataset: Dataset, implicit: bool, parent_encoding: Encodings) -> Iterator[bytes]:
    """The encoded elements of one dataset, in tag order."""
    if _pydicom_recodes(dataset, implicit):
        yield _by_pydicom(lambda buffer: write_dataset(buffer, dataset, parent_encoding), implicit)
        return
    encodings = dataset.get("SpecificCharacterSet", parent_encoding)
    for tag, element in sorted(stored_elements(dataset).items()):
        if tag & 0xFFFF == 0 and tag >> 16 > 6:
            continue  # retired group lengths are never written
        if isinstance(element, RawDataElement) and element.value is None:
            element = dataset.get_item(tag)  # a deferred value: read now, as pydicom does
        yield _element_bytes(element, implicit, encodings)


def _pydicom_recodes(dataset: Dataset, implicit: bool) -> bool:
    """pydicom decodes and re-encodes every value of a dataset read in another encoding or
    character set, and settles ambiguous VRs in one made in memory: it is left to do that."""
    if dataset.original_encoding == (None, None):  # made in memory: no value is raw
        return any(" or " in str(dataset.get_item(tag).VR) for tag in dataset.keys())  # noqa: SIM118
    return dataset.original_encoding != (implicit, True) or (
        dataset.original_character_set != dataset._character_set
    )


def _element_bytes(
    element: DataElement | RawDataElement, implicit: bool, encodings: Encodings
) -> bytes:
    value: bytes | None
    if isinstance(element, RawDataElement):
        readable = element.length != UNDEFINED_LENGTH and (implicit or element.VR is not None)
        value = element.value if readable else None
    elif element.VR == "SQ":
        return _sequence_bytes(element, implicit, encodings)
    elif element.is_undefined_length:  # encapsulated pixel data: fragments and a delimiter
        value = None
    else:
        value = _value_bytes(element, _python_encodings(encodings))
    if value is None or (len(value) > 0xFFFF and element.VR not in _LONG_LENGTH_VRS):
        return _by_pydicom(lambda buffer: write_data_element(buffer, element, encodings), implicit)
    return _header(element.tag, element.VR, len(value), implicit) + value


def _value_bytes(element: DataElement, encodings: tuple[str, ...]) -> bytes | None:
    """The encoded value of the kinds of element a profile sets (empty, text, person names,
    binary numbers), exactly as pydicom encodes them; None for any other kind."""
    vr, value = element.VR, element.value
    if element.is_empty:
        return b""
    if vr == "SS" and element.tag in _LUT_DESCRIPTOR_TAGS:
        return None  # pydicom writes a descriptor's first value as US whatever its VR
    if vr in _NUMBER_FORMATS and isinstance(value, int | float | MultiValue | list):
        numbers = value if isinstance(value, MultiValue | list) else [value]
        if not all(isinstance(number, int | float) for number in numbers):
            return None
        return struct.pack(f"<{len(numbers)}{_NUMBER_FORMATS[vr]}", *numbers)
    if vr in _PADDED_BINARY_VRS and isinstance(value, bytes):
        return _padded(value, b"\x00")
    values = list(value) if isinstance(value, MultiValue | list) else [value]
    if vr == "PN" and all(isinstance(name, PersonName) for name in values):
        return _padded(b"\\".join(name.encode(encodings) for name in values), b" ")
    if not all(isinstance(text, str) for text in values):
        return None
    if vr in _ENCODED_TEXT_VRS:
        return _padded(b"\\".join(encode_string(text, encodings) for text in values), b" ")
    if vr in _PLAIN_TEXT_VRS:
        padding = b"\x00" if vr == "UI" else b" "
        return _padded("\\".join(values).encode(default_encoding), padding)
    return None


def _padded(value: bytes, padding: bytes) -> bytes:
    return value + padding if len(value) % 2 else value


@lru_cache(maxsize=64)
def _converted(encodings: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(convert_encodings(list(encodings)))


def _python_encodings(encodings: Encodings) -> tuple[str, ...]:
    return _converted((encodings,) if isinstance(encodings, str) else tuple(encodings))


def _sequence_bytes(element: DataElement, implicit: bool, encodings: Encodings) -> bytes:
    item_encodings = convert_encodings(encodings)
    items = b"".join(_item_bytes(item, implicit, item_encodings) for item in element.value)
    if element.is_undefined_length:
        return _header(element.tag, "SQ", UNDEFINED_LENGTH, implicit) + items + _SEQUENCE_END
    return _header(element.tag, "SQ", len(items), implicit) + items


def _item_bytes(item: Dataset, implicit: bool, encodings: list[str]) -> bytes:
    body = b"".join(_dataset_parts(item, implicit, encodings))
    if getattr(item, "is_undefined_length_sequence_item", False):
        return _ITEM + struct.pack("<I", UNDEFINED_LENGTH) + body + _ITEM_END
    return _ITEM + struct.pack("<I", len(body)) + body


def _header(tag: int, vr: str | None, length: int, implicit: bool) -> bytes:
    """An element's tag, VR and length, little endian, as Part 5 section 7.1 lays them out."""
    prefix, long_length = _header_prefix(tag, vr, implicit)
    return prefix + (_LONG_LENGTH.pack(length) if long_length else _SHORT_LENGTH.pack(length))


@lru_cache(maxsize=4096)
def _header_prefix(tag: int, vr: str | None, implicit: bool) -> tuple[bytes, bool]:
    """The tag and VR part of a header, and whether its length takes 4 bytes."""
    tag_bytes = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
    if implicit:
        return tag_bytes, True
    assert vr is not None, "callers leave elements without a VR to pydicom"
    if vr in _LONG_LENGTH_VRS:
        return tag_bytes + vr.encode("ascii") + b"\x00\x00", True
    return tag_bytes + vr.encode("ascii"), False


def _by_pydicom(write: Callable[[DicomBytesIO], object], implicit: bool) -> bytes:
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, implicit
    write(buffer)
    return buffer.getvalue()
