"""The small records the stages share: what changed, why an instance may not leave, what was
passed over, whose pseudonym an instance carries, what to blank in the pixels.

They depend on nothing else in the package, so the audit log, the quarantine and the pixel code
need not import the engine or the gate for a type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple


class Change(NamedTuple):
    """One attribute changed in one instance, as the audit log records it."""

    path: str
    keyword: str
    vr: str
    action: str
    old: str
    new: str | None


@dataclass(frozen=True)
class PatientLink:
    """The pseudonym given to a patient, with what the trust needs to map it back."""

    pseudonym: str
    issuer: str
    patient_id: str
    sent: bool = True  # False: the profile sends no pseudonym; it only counts the patient


@dataclass(frozen=True)
class Finding:
    """Why an instance may not leave: the check, the kind of identifier and where it is. The
    matching `text` is for the trust's reviewer (`quarantine show`) and is never printed
    elsewhere."""

    check: str
    kind: str
    path: str = ""
    text: str = field(default="", compare=False, repr=False)
    region: tuple[int, ...] = field(default=(), compare=False, repr=False)  # frame, x0, y0, x1, y1

    def __str__(self) -> str:
        return f"{self.check}: {self.kind}" + (f" at {self.path}" if self.path else "")


@dataclass(frozen=True)
class Skipped:
    """A file that was not processed, and why."""

    path: Path
    reason: str


Rectangle = tuple[int, int, int, int]  # x0, y0, x1, y1: columns x0..x1-1 of rows y0..y1-1


@dataclass(frozen=True)
class Blank:
    """A rectangle to blank in one frame, or in every frame (frame None)."""

    frame: int | None
    box: Rectangle
