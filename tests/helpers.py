"""Small helpers shared by the tests."""

from __future__ import annotations

from pathlib import Path

from pydicom.dataset import Dataset


def save(dataset: Dataset, path: Path) -> Path:
    """Write a dataset as a Part 10 file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path, enforce_file_format=True)
    return path
