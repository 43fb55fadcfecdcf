"""Scores burned-in text handling on the synthetic pixel corpus (`tests.pixel_corpus`).

Each case goes through the real line (clean, write, gate) with a built-in profile. The oracle is
independent of the tool: it compares the stored pixel words before and after.

- An identifying region is *caught* when the instance is held, or when at least COVERED of its
  tight box was blanked or changed (for the embedded overlay: when no bit above HighBit is left
  set in it).
- A clean case is a *false alarm* when it is held, or when a pixel changed outside its planted
  harmless text (markers, a scale, machine settings), allowing the mask's margin around it.

Run ``python -m tests.pixel_eval [PROFILE]`` for the table, recall and false-alarm rate.
"""

from __future__ import annotations

import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from bsti_submit.deid.standard import DEFAULT_SOP_CLASSES
from bsti_submit.preparer import Preparer, build_preparer
from tests.pixel_corpus import PixelCase, PlantedText, frame_pixels, pixel_cases

COVERED = 0.9
MARGIN = 6  # pixels around a harmless planted box that a mask of it may also blank


@dataclass
class Outcome:
    """What the line did with one case, as the oracle sees it."""

    case: PixelCase
    held: bool
    findings: list[str]
    caught: list[PlantedText] = field(default_factory=list)
    missed: list[PlantedText] = field(default_factory=list)
    changed_elsewhere: int = 0  # pixels changed outside every planted box and its margin
    seconds: float = 0.0

    @property
    def false_alarm(self) -> bool:
        return self.case.clean and (self.held or self.changed_elsewhere > 0)


def evaluate(profile: str = "bsti-covid19", cases: list[PixelCase] | None = None) -> list[Outcome]:
    """Every case through the line with `profile`, which is made to admit every case's SOP
    class (the corpus has angiography, which the built-in profiles do not send)."""
    cases = cases or pixel_cases()
    with tempfile.TemporaryDirectory() as folder:
        admitting = Path(folder) / "admitting.deid"
        classes = sorted(DEFAULT_SOP_CLASSES | {str(case.dataset.SOPClassUID) for case in cases})
        admitting.write_text(
            f"FORMAT dicom\n#@ extends: {profile}\n#@ sop_classes: {', '.join(classes)}\n"
        )
        preparer = build_preparer(str(admitting), secrets.token_bytes(32), "RX1", "")
        return [_run(preparer, case, Path(folder)) for case in cases]


def _run(preparer: Preparer, case: PixelCase, folder: Path) -> Outcome:
    source = folder / "source.dcm"
    case.dataset.save_as(source, enforce_file_format=True)
    started = time.perf_counter()
    prepared = preparer.stage(source, folder / "staged.dcm")
    seconds = time.perf_counter() - started
    outcome = Outcome(case, bool(prepared.findings), [str(f) for f in prepared.findings])
    outcome.seconds = seconds
    output = pydicom.dcmread(folder / "staged.dcm")
    for planted in case.planted:
        if not planted.identifying:
            continue
        caught = outcome.held or _blanked(case.dataset, output, planted)
        (outcome.caught if caught else outcome.missed).append(planted)
    outcome.changed_elsewhere = _changed_elsewhere(case, output)
    return outcome


def _frames(dataset: Dataset) -> int:
    return int(dataset.get("NumberOfFrames", 1) or 1)


def _blanked(before: Dataset, after: Dataset, planted: PlantedText) -> bool:
    x0, y0, x1, y1 = planted.box
    old = frame_pixels(before, planted.frame)[y0:y1, x0:x1]
    new = frame_pixels(after, planted.frame)[y0:y1, x0:x1]
    stored = int(before.BitsStored)
    if int(before.BitsAllocated) > stored and (old >> stored).any():  # an embedded overlay
        return not (new.astype(np.int64) >> stored).any()
    differs = old != new
    black = new == 0
    if differs.ndim == 3:  # colour: a pixel is blanked when any of its samples changed
        differs, black = differs.any(axis=2), black.all(axis=2)
    return float((differs | black).mean()) >= COVERED


def _changed_elsewhere(case: PixelCase, output: Dataset) -> int:
    stored = int(case.dataset.BitsStored)
    low = (1 << stored) - 1
    changed = 0
    for frame in range(_frames(case.dataset)):
        old = frame_pixels(case.dataset, frame).astype(np.int64) & low
        new = frame_pixels(output, frame).astype(np.int64) & low
        differs = old != new
        if differs.ndim == 3:
            differs = differs.any(axis=2)
        for planted in case.planted:
            if planted.frame == frame:
                x0, y0, x1, y1 = planted.box
                differs[max(0, y0 - MARGIN) : y1 + MARGIN, max(0, x0 - MARGIN) : x1 + MARGIN] = (
                    False
                )
        changed += int(differs.sum())
    return changed


def summary(outcomes: list[Outcome]) -> tuple[float, float, int, int]:
    """Recall of identifying regions, false-alarm rate on clean cases, and their counts."""
    caught = sum(len(o.caught) for o in outcomes)
    regions = caught + sum(len(o.missed) for o in outcomes)
    clean = [o for o in outcomes if o.case.clean]
    alarms = sum(o.false_alarm for o in clean)
    return caught / max(1, regions), alarms / max(1, len(clean)), regions, len(clean)


def main(profile: str) -> None:
    outcomes = evaluate(profile)
    for outcome in outcomes:
        verdict = "held" if outcome.held else "sent"
        missed = "; ".join(planted.text for planted in outcome.missed)
        alarm = " FALSE ALARM" if outcome.false_alarm else ""
        print(
            f"{outcome.case.name:55} {verdict:4} caught {len(outcome.caught)} missed "
            f"{len(outcome.missed)} elsewhere {outcome.changed_elsewhere:6} "
            f"{outcome.seconds:5.2f}s{alarm} {missed}"
        )
        if outcome.held or outcome.false_alarm:
            print("    " + "; ".join(outcome.findings)[:300])
    recall, alarms, regions, clean = summary(outcomes)
    print(
        f"{profile}: recall {recall:.1%} of {regions} identifying regions; "
        f"false alarms {alarms:.1%} of {clean} clean images"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bsti-covid19")
