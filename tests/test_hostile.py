"""Hostile and odd input, generated: the line never crashes, never hangs, reports each bad file
with a reason, and writes nothing unverified."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from bsti_submit.deid.engine import Deidentifier
from bsti_submit.deid.profile import load_profile
from bsti_submit.deid.pseudonym import Pseudonymizer
from bsti_submit.delivery.folder import write_instance
from bsti_submit.errors import NotAnInstanceError
from bsti_submit.preparer import DICOM_FILE_ERRORS, Preparer
from bsti_submit.testing import FakePatient, make_instance
from bsti_submit.workers import failure_reason

PROFILE = load_profile("bsti-covid19")
PREPARER = Preparer(Deidentifier(PROFILE, Pseudonymizer(b"h" * 32), "RX1"), PROFILE)
WHOLE = io.BytesIO()
make_instance(FakePatient()).save_as(WHOLE, enforce_file_format=True)
VALID = WHOLE.getvalue()
FUZZ = settings(
    max_examples=150,
    deadline=5000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def outcome(path: Path) -> str:
    """What the line does with one file: written (and re-read), skipped or failed, with the
    reason; anything else (a crash) fails the test."""
    try:
        prepared = PREPARER.prepare(path)
        output = io.BytesIO()
        write_instance(prepared.dataset, output)
    except NotAnInstanceError as error:
        assert str(error)
        return "skipped"
    except DICOM_FILE_ERRORS as error:
        reason = failure_reason(error)  # the line the user reads
        assert reason.split(": ")[-1].strip(), f"no reason given: {reason!r}"
        return "failed"
    by_pydicom = io.BytesIO()
    prepared.dataset.save_as(by_pydicom, enforce_file_format=True)
    assert output.getvalue() == by_pydicom.getvalue()  # the fast writer writes pydicom's bytes
    reread = pydicom.dcmread(io.BytesIO(output.getvalue()))
    assert reread.PatientIdentityRemoved == "YES"
    if not prepared.findings:
        assert FakePatient().patient_id.encode() not in output.getvalue()
    return "written"


@FUZZ
@given(data=st.data())
def test_damaged_bytes_never_crash_the_line(tmp_path: Path, data: st.DataObject) -> None:
    damaged = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 6), label="damages")):
        kind = data.draw(st.sampled_from(["flip", "cut", "huge length", "bad vr"]))
        at = data.draw(st.integers(0, len(damaged) - 1))
        if kind == "flip":
            damaged[at] ^= data.draw(st.integers(1, 255))
        elif kind == "cut":
            del damaged[at:]
            if not damaged:
                damaged = bytearray(b"\x00")
        elif kind == "huge length" and at + 4 <= len(damaged):
            damaged[at : at + 4] = b"\xfe\xff\xff\x7f"
        elif at + 2 <= len(damaged):
            damaged[at : at + 2] = b"ZZ"
    path = tmp_path / "damaged"
    path.write_bytes(bytes(damaged))
    assert outcome(path) in ("written", "skipped", "failed")


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)
ELEMENTS = {
    "PatientName": TEXT.map(lambda t: t.replace("\\", "")[:60]),
    "StudyDescription": TEXT.map(lambda t: t.replace("\\", "")[:60]),
    "ImageComments": TEXT,
    "InstitutionName": TEXT.map(lambda t: t.replace("\\", "")[:60]),
    "StudyDate": st.dates().map(lambda d: d.strftime("%Y%m%d")),
    "AccessionNumber": st.text("ABC0123456789", max_size=16),
    "ReferringPhysicianName": TEXT.map(lambda t: t.replace("\\", "")[:60]),
}


# A value valid for each VR, for private elements of random VRs.
VALUES_BY_VR: dict[str, st.SearchStrategy[object]] = {
    "LO": ELEMENTS["PatientName"],
    "PN": ELEMENTS["PatientName"],
    "UT": TEXT,
    "SH": st.text("ABCXYZ 0123", max_size=16),
    "DA": ELEMENTS["StudyDate"],
    "DS": st.integers(-9999, 9999).map(str),
    "IS": st.integers(-9999, 9999).map(str),
    "US": st.integers(0, 65535),
    "UL": st.integers(0, 2**32 - 1),
    "FD": st.floats(allow_nan=False, allow_infinity=False),
    "OB": st.binary(max_size=64).map(lambda b: b + b"\x00" * (len(b) % 2)),
    "UN": st.binary(max_size=64).map(lambda b: b + b"\x00" * (len(b) % 2)),
}


@st.composite
def nested_items(draw: st.DrawFn, depth: int) -> Dataset:
    item = Dataset()
    for keyword, values in ELEMENTS.items():
        if draw(st.booleans()):
            setattr(item, keyword, draw(values))
    if depth and draw(st.booleans()):
        item.DerivationCodeSequence = Sequence([draw(nested_items(depth - 1))])
    if draw(st.booleans()):
        block = item.private_block(
            0x0009 + 2 * draw(st.integers(0, 3)), draw(TEXT) or "X", create=True
        )
        block.add_new(draw(st.integers(0x10, 0xFF)), "LO", draw(ELEMENTS["PatientName"]))
    return item


@FUZZ
@given(
    charset=st.sampled_from(["ISO_IR 192", "ISO_IR 100", None]),
    top=nested_items(10),
    depth=st.integers(0, 10),
    implicit=st.booleans(),
)
def test_generated_datasets_are_cleaned_or_refused_never_crash(
    tmp_path: Path, charset: str | None, top: Dataset, depth: int, implicit: bool
) -> None:
    dataset = make_instance(FakePatient())
    if charset is None:
        del dataset.SpecificCharacterSet
    else:
        dataset.SpecificCharacterSet = charset
    for element in top:
        dataset[element.tag] = element
    chain = dataset
    for _ in range(depth):  # sequences nested ten deep
        chain.ReferencedStudySequence = Sequence([Dataset()])
        chain = chain.ReferencedStudySequence[0]
    chain.PatientName = FakePatient().name
    if implicit:
        dataset.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    path = tmp_path / "generated"
    try:
        dataset.save_as(path, enforce_file_format=True)
    except (UnicodeEncodeError, ValueError, LookupError):
        return  # a dataset pydicom itself cannot write is no input anyone can send us
    assert outcome(path) in ("written", "skipped", "failed")
