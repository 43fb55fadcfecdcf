"""One source file through the line, with nothing written: read -> admit -> assess burned-in
risk -> de-identify -> blank masks -> verify. `submit` then writes, sends or holds what comes
out; `scan` only reports it, so the dry run predicts exactly what a submit does."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError

from .burned_in import BurnedInRisk, MaskRules
from .deidentify import Deidentified, Deidentifier
from .discover import read_instance
from .errors import InstanceError, NotAnInstanceError
from .identifiers import collect
from .pixels import PixelMaskError, Rectangle, apply_mask
from .profile import Profile
from .verify import Finding, Verifier

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


class Preparer:
    """The engine and the gate that decides, independently of it, whether an instance may
    leave."""

    def __init__(self, engine: Deidentifier, profile: Profile, local_id_pattern: str = "") -> None:
        self.engine = engine
        self.allowed_classes = profile.sop_classes
        self.burned_in = BurnedInRisk()
        self.masks = MaskRules(profile)
        self.verifier = Verifier(profile, local_id_pattern)

    def prepare(self, path: Path) -> Prepared:
        """Raises NotAnInstanceError for files not to process, DICOM_FILE_ERRORS for bad ones."""
        dataset = read_instance(path)
        self._admit(dataset)
        risks = self.burned_in.assess(dataset)  # judged on the original header
        rectangles = self.masks.rectangles_for(dataset) if risks else []
        original = collect(dataset)
        result = self.engine.apply(dataset, original)
        if rectangles:
            risks = _mask(dataset, rectangles, result)
        return Prepared(dataset, result, risks + self.verifier.check(dataset, original))

    def _admit(self, dataset: Dataset) -> None:
        """Refuse, as not processed, objects outside the profile's SOP class allowlist."""
        sop_class = dataset.SOPClassUID
        if str(sop_class) not in self.allowed_classes:
            raise NotAnInstanceError(
                f"{sop_class.name}: not on the profile's list of SOP classes to send"
            )


def _mask(dataset: Dataset, rectangles: list[Rectangle], result: Deidentified) -> list[Finding]:
    """Blank a mask rule's rectangles; what is still at risk if that cannot be done."""
    try:
        result.changes.extend(apply_mask(dataset, rectangles))
    except PixelMaskError as error:
        return [Finding("burned-in text risk", f"mask rule not applied ({error})")]
    return []
