"""One source file through the line: read -> admit -> plan the reading of the pixels ->
de-identify -> clear high bits, blank mask rules and burned-in text -> write the cleaned instance
to a private file -> verify those bytes. `submit` then
commits, sends or holds what comes out; `scan` only reports it and deletes the file, so the dry
run predicts exactly what a submit does."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.uid import UID

from .deid.engine import Deidentified, Deidentifier
from .deid.identifiers import OriginalIdentifiers, collect
from .deid.profile import Profile, load_profile
from .deid.pseudonym import Pseudonymizer
from .delivery.folder import write_instance
from .dicomio.discover import read_instance
from .errors import InstanceError, NotAnInstanceError
from .gate.burned_in import BurnedInPlanner, MaskRules
from .gate.pixel_text import BurnedInText
from .gate.verify import Verifier
from .records import Blank, Finding

# What reading, cleaning or writing one odd file can raise; anything else is a bug and stops.
DICOM_FILE_ERRORS = (
    InstanceError,
    InvalidDicomError,
    OSError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    OverflowError,
    EOFError,
    NotImplementedError,  # pydicom, for a VR it does not know (a damaged header)
    BytesLengthException,  # pydicom, for a value whose length does not fit its VR
    struct.error,
)


@dataclass
class Prepared:
    """A cleaned instance in memory, what changed, and why it may not leave (if it may not)."""

    dataset: Dataset
    result: Deidentified
    findings: list[Finding]
    original: OriginalIdentifiers
    masked: list[Blank] = field(default_factory=list)  # the regions blanked in the pixels


class Preparer:
    """The engine and the gate that decides, independently of it, whether an instance may
    leave."""

    def __init__(self, engine: Deidentifier, profile: Profile, local_id_pattern: str = "") -> None:
        self.engine = engine
        self.allowed_classes = profile.sop_classes
        self.planner = BurnedInPlanner()
        self.masks = MaskRules(profile)
        self.burned_in = BurnedInText(profile.burned_in_text)
        self.verifier = Verifier(profile, local_id_pattern)

    def stage(self, path: Path, target: Path) -> Prepared:
        """Clean `path`, write the result to `target` (readable by its owner only) and add the
        gate's findings on those bytes. Raises as `prepare` does."""
        prepared = self.prepare(path)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            write_instance(prepared.dataset, handle)
        patient = prepared.result.patient
        own = (patient.pseudonym, self.engine.site) if patient else (self.engine.site,)
        prepared.findings += self.verifier.check(target, prepared.original, own)
        prepared.findings.sort(key=str)
        return prepared

    def prepare(self, path: Path) -> Prepared:
        """The cleaned instance in memory, with the findings of its pixels (burned-in text that
        was not masked). Raises NotAnInstanceError for files not to process, DICOM_FILE_ERRORS
        for bad ones."""
        dataset = read_instance(path)
        self._admit(dataset)
        plan = self.planner.plan(dataset)  # judged on the original header
        rule_blanks = self.masks.blanks_for(dataset)
        original = collect(dataset)
        result = self.engine.apply(dataset, original)
        finder = self.engine.finder_for(original)
        pixels = self.burned_in.clean(dataset, plan, rule_blanks, finder, original)
        result.changes.extend(pixels.changes)
        return Prepared(dataset, result, pixels.findings, original, pixels.masked)

    def _admit(self, dataset: Dataset) -> None:
        """Refuse, as not processed, objects outside the profile's SOP class allowlist."""
        sop_class = dataset.SOPClassUID
        if str(sop_class) not in self.allowed_classes:
            raise NotAnInstanceError(
                f"{_named(sop_class)}: not on the profile's list of SOP classes to send"
            )


def _named(sop_class: UID) -> str:
    """A SOP class as a reader tells it apart: a retired one (the Ultrasound Image Storage of
    1993, say, not today's) also by its UID."""
    if sop_class.is_retired:
        return f"{sop_class.name} (retired, {sop_class})"
    return sop_class.name if sop_class.name != str(sop_class) else f"SOP class {sop_class}"


def build_preparer(profile_name: str, key: bytes, site: str, local_id_pattern: str) -> Preparer:
    """The engine and the gate for one profile, key and site."""
    profile = load_profile(profile_name)
    engine = Deidentifier(profile, Pseudonymizer(key), site, local_id_pattern)
    return Preparer(engine, profile, local_id_pattern)
