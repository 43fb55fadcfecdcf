"""Small helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset


def save(dataset: Dataset, path: Path) -> Path:
    """Write a dataset as a Part 10 file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path, enforce_file_format=True)
    return path


def removed_beyond_table(tag: int) -> bool:
    """Whole groups the built-in profiles remove on top of Table E.1-1: command, curve and
    overlay groups, and group lengths."""
    group = tag >> 16
    return group == 0 or tag & 0xFFFF == 0 or group & 0xFF00 in (0x5000, 0x6000)


def table_tag(text: str) -> int | None:
    """The tag of a Table E.1-1 row, or None for a mask or the private row."""
    return None if "x" in text or text == "(gggg,eeee)" else int(text[1:5] + text[6:10], 16)
