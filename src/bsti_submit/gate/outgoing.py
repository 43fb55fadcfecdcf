"""The bytes that will leave, parsed by the gate itself: every element of a Part 10 file as
stored, with where it sits, without pydicom's reader or the engine's objects.

The gate must not share the engine's, the writer's or pydicom's view of an instance: a mistake
there would hide a leak from both. So this reads the file as the receiver will: the preamble,
the file meta, every element at every depth in the declared transfer syntax (deflated ones
inflated), and any bytes after the dataset. Pixel data is skipped by its length, never read.
"""

from __future__ import annotations

import mmap
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from pydicom.datadict import dictionary_VR

from ..dicomio.elements import parse_tag, tag_text

_PREAMBLE = 128
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_LONG_VRS = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
)
_PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
_IMPLICIT = "1.2.840.10008.1.2"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_DEFLATED = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")


class OutgoingError(Exception):
    """The bytes do not parse as a Part 10 file: nothing about them can be vouched for."""


class Element(NamedTuple):
    """One stored element: its path (`(0040,0275)[0].(0008,0104)`), tag, VR and value bytes,
    the Specific Character Set in force where it sits, and its top-level element."""

    path: str
    tag: int
    vr: str
    value: bytes
    character_sets: tuple[str, ...]
    top: int  # the tag of the top-level element it sits in (its own at the top level)


@dataclass
class Outgoing:
    """A parsed Part 10 file."""

    preamble: bytes
    elements: list[Element]
    trailing: bytes  # anything after the dataset's last element


def read_outgoing(path: Path) -> Outgoing:
    """Parse the file at `path` as the receiver will."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size < _PREAMBLE + 4:
            raise OutgoingError("shorter than a preamble and DICM")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _parse(data)


def _parse(data: mmap.mmap | bytes) -> Outgoing:
    if data[_PREAMBLE : _PREAMBLE + 4] != b"DICM":
        raise OutgoingError("no DICM prefix")
    meta = _Reader(data, _PREAMBLE + 4, implicit=False, little=True)
    elements = list(meta.elements(stop_group=0x0002))
    syntax = next(
        (e.value.rstrip(b"\x00 ").decode("ascii", "replace") for e in elements if e.tag == 0x20010),
        "",
    )
    body, offset = data, meta.offset
    if syntax in _DEFLATED:
        try:
            body, offset = zlib.decompress(bytes(data[offset:]), -zlib.MAX_WBITS), 0
        except zlib.error as error:
            raise OutgoingError(f"deflated dataset does not inflate: {error}") from error
    reader = _Reader(body, offset, implicit=syntax == _IMPLICIT, little=syntax != _BIG_ENDIAN)
    elements += reader.top_level()
    return Outgoing(bytes(data[:_PREAMBLE]), elements, bytes(body[reader.offset :]))


@lru_cache(maxsize=4096)
def _implicit_vr(tag: int) -> str:
    if tag >> 16 & 1:
        return "UN"
    try:
        vr = str(dictionary_VR(tag))
    except KeyError:
        return "UN"
    return vr if len(vr) == 2 else "OB"  # "US or SS", "OB or OW": read as bytes


def _character_sets(value: bytes) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.decode("ascii", "replace").split("\\"))


class _Reader:
    """Elements from `offset` on, in one transfer syntax."""

    def __init__(self, data: mmap.mmap | bytes, offset: int, implicit: bool, little: bool) -> None:
        self.data, self.offset = data, offset
        self.implicit = implicit
        order = "<" if little else ">"
        self._tag_and_length = struct.Struct(order + "HHI")  # implicit VR, and items
        self._tag_vr_length = struct.Struct(order + "HH2sH")  # explicit VR, short form
        self._long_length = struct.Struct(order + "I")

    def top_level(self) -> list[Element]:
        """The dataset's elements, up to where its tags stop ascending or an element does not
        fit: what follows is not part of the dataset (the caller gets it as trailing bytes)."""
        found: list[Element] = []
        last_tag = -1
        character_sets: tuple[str, ...] = ()
        while self.offset + 8 <= len(self.data):
            start = self.offset
            group, number, _ = self._tag_and_length.unpack_from(self.data, start)
            tag = group << 16 | number
            if tag <= last_tag:
                break
            try:
                read = self._one("", character_sets)
            except OutgoingError:
                read = None
            if read is None:  # cut short, or a delimiter where no item is open
                self.offset = start
                break
            found += read
            if tag == 0x00080005:
                character_sets = _character_sets(read[0].value)
            last_tag = tag
        return found

    def elements(
        self,
        prefix: str = "",
        character_sets: tuple[str, ...] = (),
        end: int | None = None,
        stop_group: int | None = None,
    ) -> list[Element]:
        """Elements until `end`, an item delimiter, the end of the data or (for the file meta)
        the first element of another group."""
        limit = len(self.data) if end is None else end
        found: list[Element] = []
        while self.offset + 8 <= limit:
            if stop_group is not None:
                (group,) = struct.unpack_from("<H", self.data, self.offset)
                if group != stop_group:
                    break
            read = self._one(prefix, character_sets)
            if read is None:
                break
            found += read
            if read and read[0].tag == 0x00080005 and read[0].path == prefix + "(0008,0005)":
                character_sets = _character_sets(read[0].value)
        return found

    def _one(self, prefix: str, character_sets: tuple[str, ...]) -> list[Element] | None:
        """The next element and everything it holds; None at an item or sequence delimiter."""
        tag, vr, length = self._header()
        if tag in (_ITEM_END, _SEQUENCE_END):
            return None
        if vr == "SQ" or (vr == "UN" and length == _UNDEFINED):
            # an undefined-length UN is a sequence, and implicit VR inside (PS3.5 6.2.2)
            inside = self.implicit or vr == "UN"
            return self._sequence(tag, prefix, character_sets, length, inside)
        if tag in _PIXEL_TAGS:
            self._skip_pixels(length)
            return []
        if length == _UNDEFINED:
            raise OutgoingError(f"{prefix}{tag_text(tag)} has an undefined length")
        end = self.offset + length
        if end > len(self.data):
            raise OutgoingError(f"{prefix}{tag_text(tag)} is cut short")
        value = bytes(self.data[self.offset : end])
        self.offset = end
        top = parse_tag(prefix) if prefix.startswith("(") else tag
        return [Element(prefix + tag_text(tag), tag, vr, value, character_sets, top)]

    def _header(self) -> tuple[int, str, int]:
        """The next element's tag, VR and length; items and delimiters have no VR."""
        data, offset = self.data, self.offset
        if offset + 8 > len(data):
            raise OutgoingError(f"cut short at byte {offset}")
        group, number, length = self._tag_and_length.unpack_from(data, offset)
        tag = group << 16 | number
        if self.implicit or group == 0xFFFE:
            self.offset += 8
            return tag, "" if group == 0xFFFE else _implicit_vr(tag), length
        group, number, raw_vr, length = self._tag_vr_length.unpack_from(data, offset)
        vr = _vr_text(raw_vr)
        if vr not in _LONG_VRS:
            self.offset += 8
            return tag, vr, length
        if offset + 12 > len(data):
            raise OutgoingError(f"cut short at byte {offset}")
        self.offset += 12
        return tag, vr, self._long_length.unpack_from(data, offset + 8)[0]

    def _sequence(
        self,
        tag: int,
        prefix: str,
        character_sets: tuple[str, ...],
        length: int,
        implicit_inside: bool,
    ) -> list[Element]:
        end = None if length == _UNDEFINED else self.offset + length
        implicit, self.implicit = self.implicit, implicit_inside
        found: list[Element] = []
        index = 0
        while end is None or self.offset < end:
            item_tag, _, item_length = self._header()
            if item_tag == _SEQUENCE_END:
                break
            if item_tag != _ITEM:
                raise OutgoingError(f"{prefix}{tag_text(tag)} holds {tag_text(item_tag)}")
            item_end = None if item_length == _UNDEFINED else self.offset + item_length
            path = f"{prefix}{tag_text(tag)}[{index}]."
            found += self.elements(path, character_sets, item_end)
            if item_end is not None:
                self.offset = item_end
            index += 1
        self.implicit = implicit
        return found

    def _skip_pixels(self, length: int) -> None:
        if length != _UNDEFINED:
            self.offset += length
            if self.offset > len(self.data):
                raise OutgoingError("Pixel Data is cut short")
            return
        while True:  # encapsulated: items of fragments, then a sequence delimiter
            item_tag, _, item_length = self._header()
            if item_tag == _SEQUENCE_END:
                return
            if item_tag != _ITEM:
                raise OutgoingError("encapsulated Pixel Data holds something other than items")
            self.offset += item_length


@lru_cache(maxsize=256)
def _vr_text(raw: bytes) -> str:
    return raw.decode("ascii", "replace")
