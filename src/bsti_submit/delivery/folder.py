"""The local folder destination and the Part 10 writing of cleaned instances. Paths come only
from new UIDs."""

from __future__ import annotations

import errno
import os
import re
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID

from ..dicomio.part10 import fast_path_applies, write_part10
from ..errors import DestinationError, InstanceError
from ..platforms import replace_file, too_long

_UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def _safe_uid(dataset: Dataset, keyword: str) -> str:
    """A UID fit to be a path component: digits and dots only, so no value can steer a path."""
    uid = str(dataset.get(keyword, ""))
    if not uid:
        raise InstanceError(f"no {keyword}, so no output path can be made")
    if len(uid) > 64 or not _UID_PATTERN.match(uid):
        raise InstanceError(f"{keyword} is not a valid UID, so no output path can be made")
    return uid


_COPY_CHUNK = 1 << 20
PIXEL_DATA = 0x7FE00010


def write_instance(dataset: Dataset, handle: BinaryIO) -> None:
    """Write a cleaned instance as Part 10. Pixel data still in the source file (deferred by
    `read_instance`) is copied across in chunks after the rest, never held whole in memory."""
    pixels = dataset.get_item(PIXEL_DATA, keep_deferred=True) if PIXEL_DATA in dataset else None
    deferred = isinstance(pixels, RawDataElement) and pixels.value is None
    if not isinstance(pixels, RawDataElement) or not deferred or max(dataset.keys()) != PIXEL_DATA:
        _write(dataset, handle)
        return
    del dataset[PIXEL_DATA]
    try:
        _write(dataset, handle)
    finally:
        dataset[PIXEL_DATA] = pixels
    syntax = dataset.file_meta.TransferSyntaxUID
    handle.write(_element_header(pixels.VR or "OW", pixels.length, syntax))
    with open(dataset.filename, "rb") as source:
        source.seek(pixels.value_tell)
        left = pixels.length
        while left:
            chunk = source.read(min(_COPY_CHUNK, left))
            if not chunk:
                raise InstanceError("the source file ended while its pixel data was copied")
            handle.write(chunk)
            left -= len(chunk)


def _write(dataset: Dataset, handle: BinaryIO) -> None:
    if fast_path_applies(dataset):
        write_part10(dataset, handle)
    else:
        dataset.save_as(handle, enforce_file_format=True)


def _element_header(vr: str, length: int, syntax: UID) -> bytes:
    """The Pixel Data element's tag, VR and length as the transfer syntax encodes them."""
    order = "<" if syntax.is_little_endian else ">"
    tag = struct.pack(f"{order}HH", PIXEL_DATA >> 16, PIXEL_DATA & 0xFFFF)
    if syntax.is_implicit_VR:
        return tag + struct.pack(f"{order}I", length)
    return tag + vr.encode("ascii") + b"\x00\x00" + struct.pack(f"{order}I", length)


def output_parts(dataset: Dataset) -> tuple[str, str, str]:
    """The (new) study, series and SOP instance UIDs that name an instance's output path."""
    return (
        _safe_uid(dataset, "StudyInstanceUID"),
        _safe_uid(dataset, "SeriesInstanceUID"),
        _safe_uid(dataset, "SOPInstanceUID"),
    )


# The longest path an instance can take below the folder: three UIDs of 64 characters, the
# separators, ".dcm", and the temporary name it is first written under.
_LONGEST_OUTPUT_TAIL = 3 * 65 + len(".dcm") + len(".9999999.partial") + 1


class LocalFolder:
    """Writes each instance to `ROOT/<study UID>/<series UID>/<SOP instance UID>.dcm`."""

    def __init__(self, root: Path) -> None:
        longest = root.absolute() / ("x" * _LONGEST_OUTPUT_TAIL)
        reason = too_long(longest)
        if reason:  # refused before any work, not file by file
            raise DestinationError(f"output folder {root} is too deep: an output file's {reason}")
        self.root = root
        self._made: set[Path] = set()  # series folders known to exist: one mkdir per series
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DestinationError(
                f"cannot create output folder {root}: {error.strerror}"
            ) from error

    def __str__(self) -> str:
        return str(self.root)

    def path_for(self, parts: tuple[str, str, str]) -> Path:
        """Where an instance goes, from its (new) UIDs alone; its folder is made."""
        study, series, sop = parts
        target = self.root / study / series / f"{sop}.dcm"
        if target.parent not in self._made:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(target.parent)
        return target

    def write(self, dataset: Dataset) -> Path:
        """Write under a temporary name and rename, so no partial file is ever left."""
        target = self.path_for(output_parts(dataset))
        _replace_whole(target, lambda handle: write_instance(dataset, handle))
        return target

    def commit(self, staged: Path, parts: tuple[str, str, str]) -> Path:
        """Move a staged instance into place: renamed on the same file system, else copied
        under a temporary name and renamed, so no partial file is ever left."""
        target = self.path_for(parts)
        try:
            replace_file(staged, target)
            return target
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
        with staged.open("rb") as source:
            _replace_whole(target, lambda handle: shutil.copyfileobj(source, handle))
        staged.unlink()
        return target


def _replace_whole(target: Path, fill: Callable[[BinaryIO], object]) -> None:
    """Write `target` under a temporary name and rename it, so no partial file is ever left."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with temporary.open("wb") as handle:
            fill(handle)
        replace_file(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
