"""Destinations for cleaned instances. A local folder for now; paths come only from new UIDs."""

from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

from pydicom.dataset import Dataset

from .errors import DestinationError, InstanceError

_UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def _safe_uid(dataset: Dataset, keyword: str) -> str:
    """A UID fit to be a path component: digits and dots only, so no value can steer a path."""
    uid = str(dataset.get(keyword, ""))
    if len(uid) > 64 or not _UID_PATTERN.match(uid):
        raise InstanceError(f"{keyword} is not a valid UID, so no output path can be made")
    return uid


def output_parts(dataset: Dataset) -> tuple[str, str, str]:
    """The (new) study, series and SOP instance UIDs that name an instance's output path."""
    return (
        _safe_uid(dataset, "StudyInstanceUID"),
        _safe_uid(dataset, "SeriesInstanceUID"),
        _safe_uid(dataset, "SOPInstanceUID"),
    )


class LocalFolder:
    """Writes each instance to `ROOT/<study UID>/<series UID>/<SOP instance UID>.dcm`."""

    def __init__(self, root: Path) -> None:
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
        temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
        try:
            dataset.save_as(temporary, enforce_file_format=True)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return target

    def commit(self, staged: Path, parts: tuple[str, str, str]) -> Path:
        """Move a staged instance into place: renamed on the same file system, else copied
        under a temporary name and renamed, so no partial file is ever left."""
        target = self.path_for(parts)
        try:
            os.replace(staged, target)
            return target
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
        temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
        try:
            shutil.copyfile(staged, temporary)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        staged.unlink()
        return target
