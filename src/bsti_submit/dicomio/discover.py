"""Find the DICOM files under a folder, telling DICOM by content, never by file name.

PACS exports mix extensionless instance files with DICOMDIRs, viewers, text and damaged files.
Discovery sniffs the first bytes of every regular file; what is not DICOM is listed with the
reason, never silently dropped. Reading and checking a whole instance is `read_instance`'s job.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.encaps import generate_fragments
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    MediaStorageDirectoryStorage,
)

from ..errors import InstanceError, NotAnInstanceError
from ..platforms import too_long
from ..records import Skipped

_PREAMBLE_LENGTH = 128
DEFER_SIZE = 4 << 20  # values larger than this are read from the file only when written
PIXEL_DATA = 0x7FE00010
_MAGIC = b"DICM"
# A Part 10 file without its preamble starts with the file meta group; a bare dataset written
# without file meta starts with group 0008. Either is little endian on disk.
_BARE_START_GROUPS = (b"\x02\x00", b"\x08\x00")


@dataclass
class Discovery:
    """What a walk found: candidate DICOM files (sorted) and everything passed over."""

    candidates: list[Path]
    skipped: list[Skipped]


def discover(source: Path) -> Discovery:
    """Walk `source` recursively; symbolic links are never followed out of it."""
    found = Discovery(candidates=[], skipped=[])
    root = source.resolve()
    for path in _walk(source, found):
        reason = _reason(path, root)
        if reason:
            found.skipped.append(Skipped(path, reason))
        else:
            found.candidates.append(path)
    return found


def _walk(source: Path, found: Discovery) -> Iterator[Path]:
    """Regular files in a stable order; linked folders are listed as skipped, not entered."""

    def unreadable(error: OSError) -> None:  # a folder that cannot be listed is said, not lost
        where = Path(error.filename) if error.filename else source
        found.skipped.append(Skipped(where, f"folder cannot be read: {error.strerror or error}"))

    for folder, subfolders, files in os.walk(source, followlinks=False, onerror=unreadable):
        subfolders.sort()
        base = Path(folder)
        for name in list(subfolders):
            try:
                linked = (base / name).is_symlink()
            except OSError as error:
                unreadable(error)
                subfolders.remove(name)
                continue
            if linked:
                found.skipped.append(
                    Skipped(base / name, "symbolic link to a folder: not followed")
                )
        for name in sorted(files):
            yield base / name


def _reason(path: Path, root: Path) -> str | None:
    """Why a file found is not a candidate, or None."""
    try:
        return (
            _name_reason(path)
            or too_long(path.absolute())
            or _outside_reason(path, root)
            or sniff(path)
        )
    except OSError as error:
        return f"cannot be read: {error.strerror or error}"


def _name_reason(path: Path) -> str | None:
    """A name that is not valid UTF-8 cannot be recorded as it is: the file is skipped."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not valid UTF-8: rename it to send it"
    return None


def _outside_reason(path: Path, root: Path) -> str | None:
    if path.is_symlink() and not path.resolve().is_relative_to(root):
        return "symbolic link leading outside the source folder: not followed"
    if not path.is_file():
        return "not a regular file"
    return None


def sniff(path: Path) -> str | None:
    """None when the first bytes look like DICOM, else the reason it is not."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_PREAMBLE_LENGTH + len(_MAGIC))
    except OSError as error:
        return f"cannot be read: {error.strerror or error}"
    if head[_PREAMBLE_LENGTH:] == _MAGIC:
        return None
    if len(head) >= 8 and head[:2] in _BARE_START_GROUPS and _looks_like_element(head):
        return None
    if not head:
        return "empty file"
    return "not a DICOM file"


def _looks_like_element(head: bytes) -> bool:
    """Bytes 4-5 are an explicit VR (two upper-case letters) or bytes 4-7 a small length."""
    vr = head[4:6]
    if vr.isalpha() and vr.isupper():
        return True
    return int.from_bytes(head[4:8], "little") < 0x10000


def read_instance(path: Path) -> FileDataset:
    """Read one instance, rejecting DICOMDIRs, non-instances and truncated files. Values over
    DEFER_SIZE (pixel data, above all) stay in the file until written, so a large instance
    never sits whole in memory; a deflated file, whose offsets are not the file's, is read
    whole."""
    try:
        dataset = pydicom.dcmread(path, force=True, defer_size=DEFER_SIZE)
        if (
            getattr(dataset, "file_meta", {}).get("TransferSyntaxUID")
            == DeflatedExplicitVRLittleEndian
        ):
            dataset = pydicom.dcmread(path, force=True)
    except OSError as error:
        raise InstanceError(f"cannot be read: {error.strerror or error}") from error
    except Exception as error:  # pydicom raises all sorts on damaged bytes: each is the file's
        raise InstanceError(f"corrupt DICOM: {type(error).__name__}: {error}") from error
    meta = getattr(dataset, "file_meta", None)
    media_class = meta.get("MediaStorageSOPClassUID") if meta is not None else None
    if media_class == MediaStorageDirectoryStorage or "DirectoryRecordSequence" in dataset:
        raise NotAnInstanceError("DICOMDIR: an index that holds patient names, never copied")
    for keyword in ("SOPClassUID", "SOPInstanceUID"):
        if not dataset.get(keyword):
            raise InstanceError(f"not a DICOM instance, or truncated: no {keyword}")
    if meta is None or "TransferSyntaxUID" not in meta:
        dataset.file_meta = meta or FileMetaDataset()
        dataset.file_meta.TransferSyntaxUID = _transfer_syntax_read(dataset)
    if dataset.file_meta.TransferSyntaxUID != DeflatedExplicitVRLittleEndian:
        _check_complete(path, dataset)  # a deflated file's offsets are not the file's
    _check_pixel_data(dataset)
    _settle_vrs(dataset)
    return dataset


def _settle_vrs(dataset: FileDataset) -> None:
    """A body in implicit VR under an explicit-VR transfer syntax (seen in the wild): pydicom
    reads it, but leaves its elements without a VR, which its writer cannot encode. Each
    element's VR is looked up now (UN where the dictionary has none), as an implicit reader
    would."""
    if dataset.file_meta.TransferSyntaxUID.is_implicit_VR:
        return
    unsettled = (dataset.get_item(tag, keep_deferred=True).VR is None for tag in dataset.keys())  # noqa: SIM118
    if any(unsettled):
        for _element in dataset.iterall():
            pass  # reading an element through the dataset settles its VR


def _check_complete(path: Path, dataset: FileDataset) -> None:
    """pydicom reads a cut-off file without complaint: it drops a partial last element and
    returns a short last value. Both show as a last element that does not end where the file
    ends. (An undefined-length last element ends at its delimiter, which pydicom checks.)

    A complete dataset may be followed by NUL padding or other bytes that some writers leave:
    pydicom reads those as elements out of tag order (or of tag 0). They are no part of the
    instance, so they are dropped here and never copied."""
    read = len(dataset.keys())
    tags = _drop_after_dataset(dataset)
    if not tags:
        return
    last = dataset.get_item(tags[-1], keep_deferred=True)
    offset = getattr(last, "value_tell", None)
    length = getattr(last, "length", None)
    if offset is None or length is None or length == 0xFFFFFFFF:
        return
    size = path.stat().st_size
    end = offset + length
    trailing_dropped = len(tags) < read
    if end > size or (end < size and not trailing_dropped and _not_padding(path, end)):
        raise InstanceError(
            f"truncated or corrupt: the last element {last.tag} ends at byte {end} "
            f"but the file has {size} bytes"
        )


def _drop_after_dataset(dataset: FileDataset) -> list[int]:
    """The dataset's tags in file order up to the first that breaks ascending order (or is
    tag 0): where the dataset ended and trailing bytes began. Those after it are deleted."""
    tags = [int(tag) for tag in dataset.keys()]  # noqa: SIM118 - iterating decodes values
    for index, tag in enumerate(tags):
        if tag == 0 or (index and tag <= tags[index - 1]):
            for trailing in tags[index:]:
                del dataset[trailing]
            return tags[:index]
    return tags


def _not_padding(path: Path, start: int) -> bool:
    """Whether the bytes after `start` are anything but NUL padding (a partial element)."""
    with path.open("rb") as handle:
        handle.seek(start)
        return bool(handle.read().strip(b"\x00"))


def _transfer_syntax_read(dataset: FileDataset) -> UID:
    """The transfer syntax a dataset without file meta was read in."""
    implicit, little = dataset.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _check_pixel_data(dataset: FileDataset) -> None:
    """An image must carry all the pixel bytes its header promises."""
    if "PixelData" not in dataset:
        if "Image Storage" in dataset.SOPClassUID.name or "Rows" in dataset:
            raise NotAnInstanceError(
                "an image without Pixel Data (a header-only copy, or cut off before its "
                "pixels): nothing to send"
            )
        return
    pixel_data = dataset.get_item(PIXEL_DATA, keep_deferred=True)
    if dataset.file_meta.TransferSyntaxUID.is_encapsulated:
        try:
            for _ in generate_fragments(dataset.PixelData):
                pass
        except (ValueError, EOFError) as error:
            raise InstanceError(f"truncated or corrupt compressed Pixel Data: {error}") from error
        return
    if isinstance(pixel_data, RawDataElement) and pixel_data.value is None:
        length = pixel_data.length  # still in the file: its declared length
    else:
        length = len(pixel_data.value)
    expected = _expected_pixel_bytes(dataset)
    if expected is not None and length < expected:
        raise InstanceError(
            f"truncated: Pixel Data has {length} bytes, the header needs {expected}"
        )


def _expected_pixel_bytes(dataset: FileDataset) -> int | None:
    try:
        bits = int(dataset.BitsAllocated)
        samples = int(dataset.get("SamplesPerPixel", 1))
        if dataset.get("PhotometricInterpretation") == "YBR_FULL_422":
            samples = 2  # two chroma samples shared by each pair of pixels: 2 a pixel, not 3
        pixels = (
            int(dataset.Rows)
            * int(dataset.Columns)
            * samples
            * int(dataset.get("NumberOfFrames", 1) or 1)
        )
    except (AttributeError, TypeError, ValueError):
        return None
    return (pixels * bits + 7) // 8
