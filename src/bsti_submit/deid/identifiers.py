"""What identifies the patient and the trust in one original header, read as a reviewer would.

`collect` gathers the raw values, each with the tags it came from: every person name (whatever
VR it is stored in), IDs, addresses, the institution and its department, every date and the
instance UIDs. Two independent readers turn them into spellings: the identifier finder
(`finder.py`), which the engine cleans text with, and the verification gate (`verify.py`), which
searches the bytes that will leave. The policy of what is searched where lives here, once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from pydicom.dataset import Dataset

from ..dicomio.elements import dictionary_vr, leaves, parse_tag, tag_for
from .standard import load_table


class Kind(StrEnum):
    """What an identifying value is; findings and audit records name it."""

    NAME = "name"
    ID = "ID"
    PLACE = "institution"
    ADDRESS = "address"
    DATE = "date"
    UID = "instance UID"


def _tags(*keywords: str) -> frozenset[int]:
    return frozenset(tag for keyword in keywords if (tag := tag_for(keyword)) is not None)


# IDs that point at the patient, the visit, the request or one machine at the trust.
ID_TAGS = _tags(
    "PatientID",
    "OtherPatientIDs",
    "AccessionNumber",
    "StudyID",
    "RequestedProcedureID",
    "ScheduledProcedureStepID",
    "PerformedProcedureStepID",
    "AdmissionID",
    "ServiceEpisodeID",
    "MedicalRecordLocator",
    "PlacerOrderNumberImagingServiceRequest",
    "FillerOrderNumberImagingServiceRequest",
    "DeviceSerialNumber",
    "DetectorID",
    "PlateID",
    "CassetteID",
    "GantryID",
    "GeneratorID",
    "StationName",
    "PatientTelephoneNumbers",
    "ReferringPhysicianTelephoneNumbers",
    "PersonTelephoneNumbers",
    "OrderCallbackPhoneNumber",
)
# Names of the trust, its departments and its places: sought by their distinctive words too.
PLACE_TAGS = _tags(
    "InstitutionName",
    "InstitutionalDepartmentName",
    "IssuerOfPatientID",
    "RequestingService",
    "ResponsibleOrganization",
    "ScheduledStudyLocation",
    "ScheduledProcedureStepLocation",
    "CurrentPatientLocation",
    "PatientInstitutionResidence",
    "PerformedLocation",
)
ADDRESS_TAGS = _tags(
    "PatientAddress",
    "InstitutionAddress",
    "ReferringPhysicianAddress",
    "PersonAddress",
    "RegionOfResidence",
)
# Instance UIDs are sought in the output; class, transfer syntax, coding-scheme and creator UIDs
# are not: the table's U rows are exactly the UIDs that identify an instance or its context.
INSTANCE_UID_TAGS = frozenset(
    parse_tag(row.tag) for row in load_table() if row.basic == "U" and "x" not in row.tag
) | _tags("MediaStorageSOPInstanceUID")
# Kept values that name the machine or describe the image (and the vendor's coil, sequence and
# filter names). A word equal to one of them is no
# identifier *in them* (an institution "TOSHIBA" in a Manufacturer "TOSHIBA_MEC"); elsewhere it
# is sought like any other. The coded ones (CS) are never searched at all.
TECHNICAL_TAGS = _tags(
    "Manufacturer",
    "ManufacturerModelName",
    "SoftwareVersions",
    "ConvolutionKernel",
    "TransmitCoilName",
    "ReceiveCoilName",
    "SequenceName",
    "FilterType",
    "Modality",
    "BodyPartExamined",
    "ImageType",
)
# Text that may carry an identifier. CS (defined terms), numbers, dates, times and UIDs in
# their own VRs are the profile's business; binary values are searched as text by the gate.
SEARCHED_VRS = frozenset({"AE", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
# Bytes that may hold text; arrays of numbers (OW, OF, OD, OL, OV: LUTs, curves) are not text,
# and a LUT ramp read as UTF-16 spells 0123456789.
SEARCHED_BINARY_VRS = frozenset({"OB", "UN"})
PIXEL_TAGS = frozenset({0x7FE00008, 0x7FE00009, 0x7FE00010})
# The tool's own dummy values are in every output on purpose.
DUMMY_DATE = date(1900, 1, 1)
DICOM_UID_ROOT = "1.2.840.10008."
# Too short to identify anyone: name parts and words of fewer letters, and digit-only IDs
# shorter than any hospital or accession number.
MIN_WORD = 3
MIN_DIGITS = 6
# Words of a name that are no name on their own (VAN DER BERG is BERG).
NAME_PARTICLES = frozenset({"VAN", "DER", "DEN", "VON", "DEL", "DELLA", "LOS", "LAS", "THE"})
# Words of institution names that identify nobody on their own.
GENERIC_PLACE_WORDS = frozenset(
    """
    HOSPITAL HOSPITALS GENERAL ROYAL UNIVERSITY INFIRMARY NHS TRUST FOUNDATION THE AND FOR
    CENTRE CENTER MEDICAL CLINIC CLINICS DEPARTMENT DEPT RADIOLOGY IMAGING XRAY RAY SCAN SCANNER
    COUNTY DISTRICT NATIONAL COMMUNITY HEALTH HEALTHCARE CARE SERVICES SERVICE TEACHING
    CHILDREN WOMEN MEMORIAL REGIONAL CITY SAINT UNIT WARD WING BLOCK BUILDING MAIN NORTH SOUTH
    EAST WEST CENTRAL DIAGNOSTIC DIAGNOSTICS INSTITUTE SCHOOL COLLEGE PARTNERSHIP GROUP
    NUMBERS NUMBER PATIENT PATIENTS SITE ROAD STREET LANE AVENUE UNITED KINGDOM ENGLAND WALES
    SCOTLAND IRELAND NORTHERN GREAT BRITAIN
    """.split()  # noqa: SIM905 - a paragraph of words reads better than a column
)


_READ_VRS = frozenset({"PN", "DA", "DT", "UI", "AE"})
_READ_TAGS = ID_TAGS | PLACE_TAGS | ADDRESS_TAGS | TECHNICAL_TAGS


# Each month's names in a date written out: English (and its abbreviations), Welsh, and the
# Roman numerals of dates such as 07-III-1958.
MONTH_WORDS = (
    ("JANUARY", "JAN", "IONAWR", "I"),
    ("FEBRUARY", "FEB", "CHWEFROR", "II"),
    ("MARCH", "MAR", "MAWRTH", "III"),
    ("APRIL", "APR", "EBRILL", "IV"),
    ("MAY", "MAI", "V"),
    ("JUNE", "JUN", "MEHEFIN", "VI"),
    ("JULY", "JUL", "GORFFENNAF", "VII"),
    ("AUGUST", "AUG", "AWST", "VIII"),
    ("SEPTEMBER", "SEP", "SEPT", "MEDI", "IX"),
    ("OCTOBER", "OCT", "HYDREF", "X"),
    ("NOVEMBER", "NOV", "TACHWEDD", "XI"),
    ("DECEMBER", "DEC", "RHAGFYR", "XII"),
)
# Latin spellings of Cyrillic and Greek letters, for names a header holds only in those
# scripts (КОВАЛЕНКО is KOVALENKO, ΠΑΠΑΔΟΠΟΥΛΟΣ is PAPADOPOULOS).
TRANSLITERATION = str.maketrans(
    {
        **dict(zip("АБВГДЕЁЗИЙКЛМНОПРСТУФЫЭІҐ", "ABVGDEEZIYKLMNOPRSTUFYEIG", strict=True)),
        **{"Ж": "ZH", "Х": "KH", "Ц": "TS", "Ч": "CH", "Ш": "SH", "Щ": "SHCH", "Ю": "YU"},
        **{"Я": "YA", "Ї": "YI", "Є": "YE", "Ъ": "", "Ь": ""},
        **dict(zip("ΑΒΓΔΕΖΗΙΚΛΜΝΞΟΠΡΣΤΥΦΩ", "AVGDEZIIKLMNXOPRSTYFO", strict=True)),
        **{"Θ": "TH", "Χ": "CH", "Ψ": "PS", "ς": "S"},
    }
)
# Name prefixes written joined, apart or in their other form (MCDONALD, MC DONALD, MACDONALD).
NAME_PREFIXES = (("MC", "MAC"), ("AP",), ("FITZ",))


def name_forms(component: str) -> set[str]:
    """One name component (upper case, as folded by a reader) in the forms a writer may use:
    transliterated into Latin letters, and with a Gaelic prefix joined, apart or swapped."""
    forms = {component, component.upper().replace("ΟΥ", "OU").translate(TRANSLITERATION)}
    for form in list(forms):
        words = form.split()
        if len(words) == 2 and any(words[0] in prefixes for prefixes in NAME_PREFIXES):
            forms.add("".join(words))
            words = ["".join(words)]
        if len(words) == 1:
            for prefixes in NAME_PREFIXES:
                for prefix in prefixes:
                    rest = words[0][len(prefix) :]
                    if words[0].startswith(prefix) and len(rest) >= MIN_WORD:
                        forms |= {f"{other}{rest}" for other in prefixes}
                        forms |= {f"{other} {rest}" for other in prefixes}
    return forms


def nhs_check_digit(first_nine: str) -> int | None:
    """The NHS (and CHI) mod-11 check digit of nine digits; None when there is none (10)."""
    total = sum(
        int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1), strict=True)
    )
    check = (11 - total % 11) % 11
    return None if check == 10 else check


def is_nhs_number(digits: str) -> bool:
    """Ten digits with a valid NHS (and CHI) check digit, not one digit repeated (a run of
    zeros in a decimal value has a "valid" check digit too)."""
    if len(digits) != 10 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    return nhs_check_digit(digits[:9]) == int(digits[9])


def parse_da(value: str) -> date | None:
    """A DA value (or the date part of a DT) as a date, or None when it is not a full date."""
    text = value.strip()[:8]
    try:
        if len(text) == 8 and text.isascii() and text.isdigit():  # the usual case, 10x faster
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


@dataclass(frozen=True)
class OriginalIdentifiers:
    """The identifying values of one original header by kind, each with the tags it came from,
    and the technical values (folded later by each reader) that are no identifier here."""

    values: dict[Kind, dict[str, frozenset[int]]]
    dates: dict[date, frozenset[int]]
    technical: frozenset[str] = frozenset()

    def of(self, kind: Kind) -> dict[str, frozenset[int]]:
        """The values of one kind."""
        return self.values.get(kind, {})

    def key(self) -> tuple[object, ...]:
        """What a finder is built from (all but the UIDs, which differ in every instance)."""
        values = tuple(
            (kind, tuple(sorted(found.items())))
            for kind, found in sorted(self.values.items())
            if kind is not Kind.UID
        )
        return values, tuple(sorted(self.dates.items())), self.technical

    @property
    def uids(self) -> dict[str, frozenset[int]]:
        """The original instance UIDs."""
        return self.of(Kind.UID)


@dataclass
class _Found:
    values: dict[Kind, dict[str, set[int]]] = field(default_factory=dict)
    dates: dict[date, set[int]] = field(default_factory=dict)
    technical: set[str] = field(default_factory=set)

    def add(self, kind: Kind, tag: int, values: Iterable[str]) -> None:
        found = self.values.setdefault(kind, {})
        for value in values:
            if value.strip():
                found.setdefault(value.strip(), set()).add(tag)


def collect(dataset: Dataset) -> OriginalIdentifiers:
    """The identifying values of an original dataset and its file meta, at every depth."""
    found = _Found()
    meta = getattr(dataset, "file_meta", None)
    for source in (meta, dataset):
        if source is None:
            continue
        for leaf in leaves(source):
            vr, tag = leaf.vr, leaf.tag
            if vr not in _READ_VRS and tag not in _READ_TAGS and dictionary_vr(tag) != "PN":
                continue
            values = [value for value in leaf.text().split("\\") if value.strip()]
            if values:
                _note(found, tag, vr, values)
    return OriginalIdentifiers(
        {kind: _frozen(values) for kind, values in found.values.items()},
        {day: frozenset(tags) for day, tags in found.dates.items()},
        frozenset(found.technical),
    )


def _frozen(values: dict[str, set[int]]) -> dict[str, frozenset[int]]:
    return {value: frozenset(tags) for value, tags in values.items()}


def _note(found: _Found, tag: int, vr: str, values: list[str]) -> None:
    if tag in TECHNICAL_TAGS:
        found.technical.update(values)
    elif vr == "PN" or dictionary_vr(tag) == "PN":  # a name, whatever VR it was stored in
        found.add(Kind.NAME, tag, values)
    elif vr in ("DA", "DT"):
        for day in map(parse_da, values):
            if day is not None and day != DUMMY_DATE:
                found.dates.setdefault(day, set()).add(tag)
    elif vr == "UI":
        if tag in INSTANCE_UID_TAGS:
            found.add(Kind.UID, tag, [uid for uid in values if not uid.startswith(DICOM_UID_ROOT)])
    elif tag in ID_TAGS or vr == "AE":
        found.add(Kind.ID, tag, values)
    elif tag in PLACE_TAGS:
        found.add(Kind.PLACE, tag, values)
    elif tag in ADDRESS_TAGS:
        found.add(Kind.ADDRESS, tag, values)
