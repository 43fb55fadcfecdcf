"""An adversarial synthetic DICOM corpus: leaks, false-alarm bait and PACS-like exports.

Every identity here is made up: names, addresses and numbers are invented, telephone numbers are
Ofcom's drama ranges, NHS numbers are in the 999 test range. The corpus is deterministic: the
same code always builds the same bytes.

Three kinds of file:

- ``leak``: one identifier (or a few of one class) planted somewhere a naive cleaner misses it,
  in a spelling or place the header itself does not hold it in. `planted` lists the spellings
  that must not appear in any delivered byte, plus the header's own identifying values.
- ``clean``: false-alarm bait. Technical values that resemble identifiers (name parts equal to
  modality or kernel names, NHS-shaped serial numbers, vendor UIDs...). Each must be delivered.
- ``export``: a PACS export of several patients, two studies each, every instance carrying the
  hospital's name in local code sequences.

`leaked` is the oracle, independent of the tool: it searches the whole output file (and, when it
parses, each element's value on its own) for the planted spellings, folded to upper case without
diacritics or punctuation.

Run ``python -m tests.corpus`` from the repository root for the outcome table of both profiles.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import sys
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

from bsti_submit.testing import fake_nhs_number

PROFILES = ("bsti-covid19", "ps315-basic")
SITE = "RX1"
KINDS = ("leak", "clean", "export")
_UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's root: made-up instances live under it
_ROWS = _COLUMNS = 32


@dataclass(frozen=True)
class CorpusFile:
    """One synthetic instance, what it plants and whether it must arrive."""

    name: str  # unique, e.g. "leak-name-no-diacritics-in-study-description"
    kind: str  # "leak", "clean" (false-alarm bait) or "export"
    dataset: Dataset
    planted: tuple[str, ...]  # identifier spellings that must not appear in any delivered byte
    must_deliver: bool  # deliverable after correct cleaning

    @property
    def group(self) -> str:
        """The class of the file: its kind and the first word after it ("leak-date")."""
        return "-".join(self.name.split("-")[:2])


# ---------------------------------------------------------------------------------------------
# Identities


INSTITUTION = "St Nowhere General Hospital"
INSTITUTION_SHORT_FORMS = ("St Nowhere",)
INSTITUTION_ABBREVIATION = "SNGH"
LOCAL_CODING_SCHEME = "99SNGH"  # the hospital's local coding scheme designator: names it


@dataclass(frozen=True)
class Identity:
    """Everything identifying about one made-up patient and the visit."""

    family: str
    given: str
    patient_id: str
    birth_date: str
    sex: str = "F"
    middle: str = ""
    ideographic: str = ""  # the ideographic component group, "^"-separated
    phonetic: str = ""
    issuer: str = "SNGH PAS"
    nhs_number: str = ""
    address: str = ""
    telephone: str = ""
    accession: str = ""
    institution: str = INSTITUTION
    institution_address: str = "1 Quillfeather Road^Testville^TV2 9ZZ"
    department: str = "Lister Wing Radiology"
    referring: str = ""
    performing: str = ""
    operator: str = ""
    station: str = "SNGHCT01"
    study_date: str = "20200324"
    study_time: str = "101530.250000"
    charset: str = "ISO_IR 100"

    @property
    def name(self) -> str:
        """The PatientName value with its component groups."""
        alphabetic = "^".join(part for part in (self.family, self.given, self.middle) if part)
        groups = [alphabetic]
        if self.ideographic or self.phonetic:
            groups += [self.ideographic, self.phonetic]
        return "=".join(groups).rstrip("=")

    @property
    def age(self) -> str:
        years = int(self.study_date[:4]) - int(self.birth_date[:4])
        if self.study_date[4:] < self.birth_date[4:]:
            years -= 1
        return f"{years:03d}Y"

    def header_planted(self) -> tuple[str, ...]:
        """What identifies in the header itself, as it could appear in output bytes."""
        values = [self.family, self.given, self.middle, self.patient_id, self.birth_date]
        values += [self.nhs_number, self.accession, self.institution, self.telephone]
        values += [self.study_date, self.department, self.station, self.issuer]
        for group in (self.ideographic, self.phonetic):
            values += group.split("^")
        for person in (self.referring, self.performing, self.operator):
            values += person.split("^")[:2]
        for address in (self.address, self.institution_address):
            values += [_HOUSE_NUMBER.sub("", part) for part in address.split("^")]
        if self.institution == INSTITUTION:  # its short forms: the hospital's own words
            values += INSTITUTION_SHORT_FORMS
        if INSTITUTION_ABBREVIATION in self.issuer.split():
            values.append(INSTITUTION_ABBREVIATION)
        return _unique(value for value in values if len(_fold(value)) >= 3)


_HOUSE_NUMBER = re.compile(r"^[0-9]+[A-Z]?\s+")


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


ZOE = Identity(
    family="MÜLLER",
    given="ZOË",
    middle="ANNE",
    ideographic="ミュラー^ゾーイ",
    phonetic="みゅらー^ぞーい",
    patient_id="RX1234567",
    birth_date="19610415",
    nhs_number=fake_nhs_number(12345),
    address="12 Imaginary Lane^Testville^TV1 2XY",
    telephone="01632 960123",
    accession="ACC99887766",
    referring="JEKYLL^HENRY^^DR",
    performing="LANYON^HASTIE",
    operator="POOLE^AGATHA",
    charset="ISO_IR 192",
)
SEAN = Identity(
    family="O'NEILL",
    given="SEÁN",
    patient_id="RX7654321",
    birth_date="19480102",
    sex="M",
    nhs_number=fake_nhs_number(54321),
    address="7 Fictional Close^Mockford^TV9 8QQ",
    telephone="01632 960555",
    accession="ACC11223344",
    referring="CARLYLE^EDMUND^^DR",
    performing="LANYON^HASTIE",
    operator="PETTIGREW^TILLY",
    study_date="20200401",
)
PRIYA = Identity(
    family="SMITH-JONES",
    given="PRIYA",
    patient_id="RX2468013",
    birth_date="19791130",
    nhs_number=fake_nhs_number(24680),
    address="21 Nonesuch Street^Testville^TV3 1AB",
    telephone="07700 900461",
    accession="ACC55443322",
    referring="JEKYLL^HENRY^^DR",
    performing="LANYON^HASTIE",
    operator="POOLE^AGATHA",
    study_date="20200407",
)
EXPORT_PATIENTS = (
    Identity(
        family="FAIRWEATHER",
        given="OLWEN",
        middle="MAIR",
        patient_id="RX3141592",
        birth_date="19520719",
        nhs_number=fake_nhs_number(31415),
        address="3 Larkspur Mews^Testville^TV4 6PD",
        telephone="01632 960777",
        accession="ACC31415926",
        referring="CARLYLE^EDMUND^^DR",
        performing="LANYON^HASTIE",
        operator="PETTIGREW^TILLY",
        study_date="20200411",
    ),
    Identity(
        family="BRANNIGAN",
        given="TOMÁS",
        patient_id="RX2718281",
        birth_date="19880229",
        sex="M",
        nhs_number=fake_nhs_number(27182),
        address="40 Wrenfield Drive^Mockford^TV8 2LW",
        telephone="07700 900888",
        accession="ACC27182818",
        referring="JEKYLL^HENRY^^DR",
        performing="LANYON^HASTIE",
        operator="POOLE^AGATHA",
        study_date="20200415",
    ),
    Identity(
        family="ABERNATHY-OKORO",
        given="KWAME",
        patient_id="RX1618033",
        birth_date="20011009",
        sex="M",
        nhs_number=fake_nhs_number(16180),
        address="9 Oriel House^Testville^TV5 3XE",
        telephone="01632 960999",
        accession="ACC16180339",
        referring="CARLYLE^EDMUND^^DR",
        performing="LANYON^HASTIE",
        operator="PETTIGREW^TILLY",
        study_date="20200420",
    ),
)


# ---------------------------------------------------------------------------------------------
# Scanners and base images


@dataclass(frozen=True)
class Scanner:
    """A device: its SOP class, identity and typical acquisition attributes."""

    modality: str
    sop_class: UID
    manufacturer: str
    model: str
    software: str
    image_type: tuple[str, ...]
    technique: dict[str, Any] = field(default_factory=dict)


_CT_COMMON: dict[str, Any] = {
    "BodyPartExamined": "CHEST",
    "ScanOptions": "HELICAL MODE",
    "SliceThickness": "1.0",
    "KVP": "120",
    "DataCollectionDiameter": "500.0",
    "ReconstructionDiameter": "350.0",
    "GantryDetectorTilt": "0.0",
    "TableHeight": "152.5",
    "RotationDirection": "CW",
    "ExposureTime": "500",
    "XRayTubeCurrent": 180,
    "Exposure": 90,
    "FilterType": "FLAT",
    "FocalSpots": "1.2",
    "PatientPosition": "HFS",
    "WindowCenter": ["-600", "40"],
    "WindowWidth": ["1500", "400"],
    "WindowCenterWidthExplanation": ["LUNG", "MEDIASTINUM"],
    "RescaleIntercept": "-1024",
    "RescaleSlope": "1",
    "RescaleType": "HU",
    "PixelSpacing": ["0.68359375", "0.68359375"],
    "ImageOrientationPatient": ["1", "0", "0", "0", "1", "0"],
    "PositionReferenceIndicator": "",
    "CTDIvol": 6.84,
    "SpiralPitchFactor": 1.2,
    "RevolutionTime": 0.5,
    "SingleCollimationWidth": 0.6,
    "TotalCollimationWidth": 38.4,
}
SIEMENS_CT = Scanner(
    "CT",
    CTImageStorage,
    "SIEMENS",
    "SOMATOM Definition Edge",
    "syngo CT VA48A",
    ("ORIGINAL", "PRIMARY", "AXIAL"),
    {**_CT_COMMON, "ConvolutionKernel": "B30f"},
)
GE_CT = Scanner(
    "CT",
    CTImageStorage,
    "GE MEDICAL SYSTEMS",
    "Optima CT660",
    "sles_ct660.22",
    ("ORIGINAL", "PRIMARY", "AXIAL"),
    {**_CT_COMMON, "ConvolutionKernel": "STANDARD", "FilterType": "BODY FILTER"},
)
PHILIPS_CT = Scanner(
    "CT",
    CTImageStorage,
    "Philips",
    "Ingenuity CT",
    "4.1.6",
    ("ORIGINAL", "PRIMARY", "AXIAL"),
    {**_CT_COMMON, "ConvolutionKernel": "YB", "FilterType": "B"},
)
CANON_CT = Scanner(
    "CT",
    CTImageStorage,
    "CANON_MEC",
    "Aquilion Prime SP",
    "V10.6SP0001",
    ("ORIGINAL", "PRIMARY", "AXIAL"),
    {**_CT_COMMON, "ConvolutionKernel": "FC52", "FilterType": "LARGE"},
)
_XR_COMMON: dict[str, Any] = {
    "BodyPartExamined": "CHEST",
    "ViewPosition": "PA",
    "PatientOrientation": ["L", "F"],
    "KVP": "125",
    "ExposureTime": "8",
    "XRayTubeCurrent": 320,
    "Exposure": 3,
    "ExposureInuAs": 2560,
    "DistanceSourceToDetector": "1800",
    "ImagerPixelSpacing": ["0.148", "0.148"],
    "WindowCenter": "2048",
    "WindowWidth": "4096",
    "RescaleIntercept": "0",
    "RescaleSlope": "1",
    "RescaleType": "US",
}
PHILIPS_CR = Scanner(
    "CR",
    ComputedRadiographyImageStorage,
    "Philips Medical Systems",
    "PCR Eleva",
    "PCR Eleva 2.1.2",
    ("ORIGINAL", "PRIMARY"),
    {**_XR_COMMON, "PlateID": "PL03", "CassetteOrientation": "PORTRAIT"},
)
CANON_DX = Scanner(
    "DX",
    DigitalXRayImageStorageForPresentation,
    "Canon Inc.",
    "CXDI-710C Wireless",
    "CXDI Control Software NE 2.14",
    ("ORIGINAL", "PRIMARY"),
    {
        **_XR_COMMON,
        "PresentationIntentType": "FOR PRESENTATION",
        "DetectorType": "SCINTILLATOR",
        "ExposureIndex": 412.0,
        "TargetExposureIndex": 400.0,
        "DeviationIndex": 0.13,
        "EntranceDoseInmGy": 0.082,
        "ImageAndFluoroscopyAreaDoseProduct": 0.0461,
    },
)
GE_DX = replace(
    CANON_DX,
    manufacturer="GE Healthcare",
    model="Definium 656",
    software="dm_Platform_release_DX656",
)
SIEMENS_MR = Scanner(
    "MR",
    MRImageStorage,
    "SIEMENS",
    "MAGNETOM Aera",
    "syngo MR E11",
    ("ORIGINAL", "PRIMARY", "M", "ND", "NORM"),
    {
        "BodyPartExamined": "CHEST",
        "ScanningSequence": "SE",
        "SequenceVariant": ["SK", "SP"],
        "ScanOptions": "PFP",
        "MRAcquisitionType": "2D",
        "SequenceName": "*tse2d1_15",
        "SliceThickness": "5.0",
        "RepetitionTime": "1200.0",
        "EchoTime": "92.0",
        "MagneticFieldStrength": "1.5",
        "ImagingFrequency": "63.676",
        "ImagedNucleus": "1H",
        "EchoTrainLength": 15,
        "FlipAngle": "150.0",
        "ReceiveCoilName": "Body_18",
        "TransmitCoilName": "Body",
        "PatientPosition": "HFS",
        "PixelSpacing": ["1.40625", "1.40625"],
        "ImageOrientationPatient": ["1", "0", "0", "0", "1", "0"],
        "WindowCenter": "310",
        "WindowWidth": "720",
    },
)
GE_MR = replace(
    SIEMENS_MR,
    manufacturer="GE MEDICAL SYSTEMS",
    model="SIGNA Artist",
    software="27\\LX\\MR Software release:RX27.0_R02_1831.a",
    technique={**SIEMENS_MR.technique, "SequenceName": "fse-xl", "ReceiveCoilName": "AIR"},
)

_STUDY_DESCRIPTION = {"CT": "CT CHEST", "CR": "XR CHEST", "DX": "XR CHEST", "MR": "MR THORAX"}
_SERIES_DESCRIPTION = {
    "CT": "LUNG 1.0 B30f",
    "CR": "CHEST PA ERECT",
    "DX": "CHEST PA ERECT",
    "MR": "t2_tse_tra_mbh",
}


def _uid(*parts: object) -> UID:
    return generate_uid(_UID_ROOT, entropy_srcs=[str(part) for part in parts])


def _pixels(rows: int, columns: int) -> bytes:
    """A disc phantom in 12-bit values: the high bytes stay below 0x08, so no run of text."""
    values = []
    for row in range(rows):
        for column in range(columns):
            distance = (row - rows / 2) ** 2 + (column - columns / 2) ** 2
            inside = distance < (rows * 0.4) ** 2
            values.append((1064 + (row * 7 + column * 3) % 60) if inside else 24 + column % 5)
    return struct.pack(f"<{len(values)}H", *values)


_PIXEL_BYTES = _pixels(_ROWS, _COLUMNS)


def base_image(
    person: Identity,
    scanner: Scanner,
    key: str,
    study: str = "1",
    series: int = 1,
    instance: int = 1,
) -> Dataset:
    """A realistic image header for one person on one scanner. `key` makes the instance UID;
    `study` and `series` make the study and series UIDs, shared by instances that share them."""
    ds = Dataset()
    ds.SpecificCharacterSet = person.charset
    ds.ImageType = list(scanner.image_type)
    ds.SOPClassUID = scanner.sop_class
    ds.SOPInstanceUID = _uid("instance", key)
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = person.study_date
    ds.InstanceCreationDate = person.study_date
    ds.StudyTime = person.study_time
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "101712.500000"
    ds.AccessionNumber = person.accession
    ds.Modality = scanner.modality
    ds.Manufacturer = scanner.manufacturer
    ds.InstitutionName = person.institution
    ds.InstitutionAddress = person.institution_address
    ds.ReferringPhysicianName = person.referring
    ds.StationName = person.station
    ds.StudyDescription = _STUDY_DESCRIPTION[scanner.modality]
    ds.SeriesDescription = _SERIES_DESCRIPTION[scanner.modality]
    ds.InstitutionalDepartmentName = person.department
    ds.PerformingPhysicianName = person.performing
    ds.OperatorsName = person.operator
    ds.ManufacturerModelName = scanner.model
    ds.PatientName = person.name
    ds.PatientID = person.patient_id
    ds.IssuerOfPatientID = person.issuer
    ds.PatientBirthDate = person.birth_date
    ds.PatientSex = person.sex
    if person.nhs_number:
        other = Dataset()
        other.PatientID = person.nhs_number
        other.IssuerOfPatientID = "NHS"
        other.TypeOfPatientID = "TEXT"
        ds.OtherPatientIDsSequence = Sequence([other])
    ds.PatientAge = person.age
    ds.PatientSize = "1.68"
    ds.PatientWeight = "71"
    if person.address:
        ds.PatientAddress = person.address
    if person.telephone:
        ds.PatientTelephoneNumbers = person.telephone
    ds.DeviceSerialNumber = "48213"
    ds.SoftwareVersions = scanner.software
    ds.ProtocolName = {"CT": "CHEST HRCT", "MR": "THORAX T2"}.get(scanner.modality, "CHEST PA")
    for keyword, value in scanner.technique.items():
        setattr(ds, keyword, value)
    ds.StudyInstanceUID = _uid("study", person.patient_id, study)
    ds.SeriesInstanceUID = _uid("series", person.patient_id, study, series)
    ds.StudyID = "4471"
    ds.SeriesNumber = series
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = instance
    if scanner.modality in ("CT", "MR"):
        position = f"{-instance * 1.25:.2f}"
        ds.ImagePositionPatient = ["-175.0", "-175.0", position]
        ds.SliceLocation = position
        ds.FrameOfReferenceUID = _uid("frame", person.patient_id, study)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = _ROWS, _COLUMNS
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.PixelData = _PIXEL_BYTES
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.SourceApplicationEntityTitle = "PACSEXPORT"
    return ds


def _code(value: str, scheme: str, meaning: str, **extra: Any) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    for keyword, content in extra.items():
        setattr(item, keyword, content)
    return item


def _items(*items: Dataset) -> Sequence:
    return Sequence(list(items))


Mutation = Callable[[Dataset], None]


def _set(**attributes: Any) -> Mutation:
    """A mutation that sets attributes by keyword."""

    def mutate(ds: Dataset) -> None:
        for keyword, value in attributes.items():
            setattr(ds, keyword, value)

    return mutate


def _codes(keyword: str, *items: Dataset) -> Mutation:
    return _set(**{keyword: _items(*items)})


# ---------------------------------------------------------------------------------------------
# Leaks


@dataclass(frozen=True)
class _Leak:
    name: str
    person: Identity
    scanner: Scanner
    spellings: tuple[str, ...]  # the planted spellings (besides the header's own values)
    mutate: Mutation
    must_deliver: bool = True


def _leak(
    name: str,
    spellings: tuple[str, ...],
    mutate: Mutation | None = None,
    *,
    person: Identity = ZOE,
    scanner: Scanner = SIEMENS_CT,
    must_deliver: bool = True,
    **attributes: Any,
) -> _Leak:
    """A leak file of `person` on `scanner` (the first patient's CT by default): `mutate`, then
    the attributes set by keyword, plant the `spellings`."""

    def plant(ds: Dataset) -> None:
        if mutate is not None:
            mutate(ds)
        for keyword, value in attributes.items():
            setattr(ds, keyword, value)

    return _Leak(name, person, scanner, spellings, plant, must_deliver)


def _nhs_spaced(number: str, separator: str = " ") -> str:
    return separator.join((number[:3], number[3:6], number[6:]))


_NHS_A = fake_nhs_number(424242)
_NHS_B = fake_nhs_number(161803)
_NHS_C = fake_nhs_number(271828)
_NHS_D = fake_nhs_number(141421)
_NHS_E = fake_nhs_number(173205)
_SOP_FOR_COPY = _uid("instance", "leak-uid-original-instance-in-image-comments")


def _context_depth_two(ds: Dataset) -> None:
    """PerformedProtocolCodeSequence > ProtocolContextSequence > TextValue."""
    context = Dataset()
    context.ValueType = "TEXT"
    context.ConceptNameCodeSequence = _items(_code("121106", "DCM", "Comment"))
    context.TextValue = "requested under RX 1234567"
    protocol = _code("CTCHEST", "99SITE", "CT CHEST", ProtocolContextSequence=_items(context))
    ds.PerformedProtocolCodeSequence = _items(protocol)


def _context_depth_three(ds: Dataset) -> None:
    """PerformedProtocolCodeSequence > ProtocolContextSequence > ContentItemModifierSequence >
    ConceptCodeSequence > CodeMeaning."""
    modifier = Dataset()
    modifier.ValueType = "CODE"
    modifier.ConceptNameCodeSequence = _items(_code("G-C0E3", "SRT", "Finding Site"))
    modifier.ConceptCodeSequence = _items(_code("PT01", "99SITE", "patient MUELLER Z"))
    context = Dataset()
    context.ValueType = "CODE"
    context.ConceptNameCodeSequence = _items(_code("G-C171", "SRT", "Laterality"))
    context.ConceptCodeSequence = _items(_code("G-A101", "SRT", "Left"))
    context.ContentItemModifierSequence = _items(modifier)
    protocol = _code("CTCHEST", "99SITE", "CT CHEST", ProtocolContextSequence=_items(context))
    ds.PerformedProtocolCodeSequence = _items(protocol)


def _context_birth_date(ds: Dataset) -> None:
    context = Dataset()
    context.ValueType = "DATE"
    context.ConceptNameCodeSequence = _items(_code("111180", "DCM", "Date of birth"))
    context.Date = "19610415"
    protocol = _code("CTCHEST", "99SITE", "CT CHEST", ProtocolContextSequence=_items(context))
    ds.PerformedProtocolCodeSequence = _items(protocol)


def _anatomic_modifier(ds: Dataset) -> None:
    modifier = _code("SNG01", "99SITE", "chest as per St Nowhere protocol")
    region = _code("T-D3000", "SRT", "Chest", AnatomicRegionModifierSequence=_items(modifier))
    ds.AnatomicRegionSequence = _items(region)


def _request_attributes(**attributes: Any) -> Mutation:
    def mutate(ds: Dataset) -> None:
        request = Dataset()
        request.RequestedProcedureID = "RP0457"
        for keyword, value in attributes.items():
            setattr(request, keyword, value)
        ds.RequestAttributesSequence = _items(request)

    return mutate


def _other_id(ds: Dataset) -> None:
    item = Dataset()
    item.PatientID = "SNG0099123"
    item.IssuerOfPatientID = "SNGH OLD PAS"
    item.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence.append(item)
    ds.ImageComments = "previous number SNG 0099123"


def _private_name(ds: Dataset) -> None:
    block = ds.private_block(0x0029, "SNGH RIS 1.0", create=True)
    block.add_new(0x10, "LO", "MULLER ZOE")
    block.add_new(0x11, "LO", "RIS ORDER 4471")


def _un_public(ds: Dataset) -> None:
    ds.add_new(0x00204000, "UN", b"seen: MULLER ZOE RX1234567 ")


def _un_unknown(ds: Dataset) -> None:
    ds.add_new(0x00189999, "UN", b"ordered for MULLER RX1234567")


def _ob_icc(ds: Dataset) -> None:
    description = b"desc\x00\x00\x00\x00\x00\x00\x00\x1cSt Nowhere General Hospital\x00"
    ds.add_new(0x00282000, "OB", b"\x00\x00\x01\x00ICCP" + description + b"\x00" * 8)


def _meta_ae(ds: Dataset) -> None:
    ds.file_meta.SourceApplicationEntityTitle = "SNGH_PACS01"
    ds.file_meta.SendingApplicationEntityTitle = "SNGH_PACS01"


def _meta_private(ds: Dataset) -> None:
    ds.file_meta.PrivateInformationCreatorUID = _uid("creator", "SNGH PACS")
    ds.file_meta.PrivateInformation = b"PID=RX1234567;NAME=MULLER^ZOE\x00"


def _performed_station(ds: Dataset) -> None:
    ds.PerformedStationName = "SNGH CT1"


def _own_series_uid(person: Identity, name: str) -> str:
    return str(_uid("series", person.patient_id, "1", _series_number(name)))


def _series_in_derivation(ds: Dataset) -> None:
    ds.DerivationDescription = f"resampled from {ds.SeriesInstanceUID}"


def _study_in_retrieve_url(ds: Dataset) -> None:
    ds.RetrieveURL = f"https://pacs.example.invalid/dicomweb/studies/{ds.StudyInstanceUID}"


def _series_number_is_study_date(ds: Dataset) -> None:
    ds.SeriesNumber = ds.StudyDate


def _leaks() -> list[_Leak]:
    cr, dx, mr = PHILIPS_CR, CANON_DX, SIEMENS_MR
    decomposed = unicodedata.normalize("NFD", "MÜLLER")  # U + combining diaeresis
    fullwidth = "".join(chr(ord(letter) + 0xFEE0) for letter in "MULLER")  # as CJK input gives
    return [
        # Names: other spellings of the patient's name.
        _leak(
            "leak-name-no-diacritics-in-study-description",
            ("MULLER",),
            StudyDescription="CT CHEST MULLER",
        ),
        _leak(
            "leak-name-german-transliteration-in-series-description",
            ("MUELLER",),
            SeriesDescription="MUELLER LUNG 1.0 B30f",
        ),
        _leak(
            "leak-name-lower-case-in-image-comments",
            ("zoë müller",),
            ImageComments="scan for zoë müller, ward 7",
        ),
        _leak(
            "leak-name-given-mixed-case-no-diacritics",
            ("Zoe",),
            StudyDescription="XR CHEST Zoe",
            scanner=cr,
        ),
        _leak(
            "leak-name-reversed-order-in-image-comments",
            ("Zoe Muller",),
            ImageComments="Zoe Muller follow-up",
        ),
        _leak(
            "leak-name-comma-order-in-requested-procedure",
            ("Muller, Zoe",),
            RequestedProcedureDescription="CT THORAX Muller, Zoe",
        ),
        _leak(
            "leak-name-initials-with-birth-date",
            ("ZAM", "15/04/1961"),
            StudyDescription="ZAM 15/04/1961 CXR",
            scanner=cr,
        ),
        _leak(
            "leak-name-decomposed-diacritics-in-study-description",
            ("MÜLLER",),
            StudyDescription=f"CT CHEST {decomposed}",
        ),
        _leak(
            "leak-name-fullwidth-latin-in-series-description",
            ("MULLER",),
            SeriesDescription=f"{fullwidth} LUNG",
        ),
        _leak(
            "leak-name-possessive-exact-spelling", ("MÜLLER",), StudyDescription="MÜLLER'S CT CHEST"
        ),
        _leak(
            "leak-name-underscore-joined-in-series-description",
            ("MULLER_ZOE",),
            SeriesDescription="MULLER_ZOE_LUNG",
        ),
        _leak(
            "leak-name-exact-spelling-underscore-joined",
            ("SMITH-JONES", "PRIYA"),
            StudyDescription="SMITH-JONES_PRIYA_CT",
            person=PRIYA,
        ),
        _leak(
            "leak-name-apostrophe-dropped",
            ("ONEILL",),
            StudyDescription="CT CHEST ONEILL",
            person=SEAN,
        ),
        _leak(
            "leak-name-apostrophe-as-space",
            ("O NEILL",),
            SeriesDescription="O NEILL CHEST PA",
            person=SEAN,
            scanner=cr,
        ),
        _leak(
            "leak-name-given-without-accent",
            ("SEAN",),
            ImageComments="SEAN PORTABLE",
            person=SEAN,
            scanner=cr,
        ),
        _leak(
            "leak-name-hyphenated-second-part",
            ("JONES",),
            StudyDescription="CXR JONES",
            person=PRIYA,
            scanner=dx,
        ),
        _leak(
            "leak-name-hyphenated-first-part",
            ("SMITH",),
            ImageComments="Mrs Smith, mobile film",
            person=PRIYA,
            scanner=dx,
        ),
        _leak(
            "leak-name-ideographic-in-study-description",
            ("ミュラー",),
            StudyDescription="MR THORAX ミュラー",
            scanner=mr,
        ),
        _leak(
            "leak-name-phonetic-in-image-comments",
            ("みゅらー",),
            ImageComments="みゅらー 様",
            scanner=mr,
        ),
        _leak(
            "leak-name-birth-name-in-image-comments",
            ("WAGNER",),
            PatientBirthName="WAGNER^ZOË",
            ImageComments="nee Wagner",
        ),
        _leak(
            "leak-name-mothers-birth-name-in-image-comments",
            ("Elke Hartmann", "HARTMANN"),
            PatientMotherBirthName="HARTMANN^ELKE",
            ImageComments="with Elke Hartmann",
        ),
        _leak(
            "leak-name-on-second-line-of-image-comments",
            ("MULLER ZOE",),
            ImageComments="CT CHEST\r\nMULLER ZOE",
        ),
        _leak(
            "leak-name-in-additional-patient-history",
            ("Muller",),
            AdditionalPatientHistory="Mrs Muller is claustrophobic",
        ),
        _leak(
            "leak-name-in-acquisition-device-processing",
            ("ZOE MULLER",),
            AcquisitionDeviceProcessingDescription="ZOE MULLER CHEST",
            scanner=cr,
        ),
        _leak("leak-name-in-private-lo-element", ("MULLER ZOE",), _private_name),
        # Names in elements whose VR is not PN.
        _leak(
            "leak-person-referring-physician-in-performed-procedure",
            ("Jekyll",),
            PerformedProcedureStepDescription="CT CHEST reported by Dr Jekyll",
        ),
        _leak(
            "leak-person-performing-physician-in-series-description",
            ("LANYON",),
            SeriesDescription="LANYON LUNG 1.0",
        ),
        _leak("leak-person-operator-in-protocol-name", ("POOLE",), ProtocolName="CHEST HRCT POOLE"),
        _leak(
            "leak-person-requesting-physician-in-reason-for-study",
            ("Carlyle",),
            RequestingPhysician="CARLYLE^EDMUND",
            ReasonForStudy="?covid per Dr Carlyle",
            person=SEAN,
            scanner=cr,
        ),
        _leak(
            "leak-person-operator-given-name-in-image-comments",
            ("Tilly",),
            ImageComments="taken by Tilly",
            person=SEAN,
            scanner=cr,
        ),
        _leak(
            "leak-person-referring-physician-given-name-first",
            ("Henry Jekyll",),
            ImageComments="for Henry Jekyll",
        ),
        # Dates: the birth date and the study date in other spellings.
        _leak(
            "leak-date-birth-slashes-in-series-description",
            ("15/04/1961",),
            SeriesDescription="LUNG 15/04/1961",
        ),
        _leak(
            "leak-date-birth-short-year-in-study-description",
            ("15/4/61",),
            StudyDescription="XR CHEST DOB 15/4/61",
            scanner=cr,
        ),
        _leak(
            "leak-date-birth-dotted-short-year-in-image-comments",
            ("15.04.61",),
            ImageComments="geb. 15.04.61",
        ),
        _leak(
            "leak-date-birth-month-abbreviation-in-code-meaning",
            ("15 Apr 1961",),
            _codes("ProcedureCodeSequence", _code("CTCH", "99SITE", "CT CHEST 15 Apr 1961")),
        ),
        _leak(
            "leak-date-birth-month-name-in-requested-procedure",
            ("15 April 1961",),
            RequestedProcedureDescription="CT CHEST born 15 April 1961",
        ),
        _leak(
            "leak-date-birth-us-order-in-image-comments",
            ("April 15, 1961",),
            ImageComments="DOB April 15, 1961",
        ),
        _leak(
            "leak-date-birth-iso-in-performed-procedure",
            ("1961-04-15",),
            PerformedProcedureStepDescription="CT CHEST 1961-04-15",
        ),
        _leak(
            "leak-date-birth-dashed-month-name",
            ("15-APR-1961",),
            StudyDescription="CXR 15-APR-1961",
            scanner=dx,
        ),
        _leak(
            "leak-date-birth-ordinal-words",
            ("15th April 1961",),
            ImageComments="born 15th April 1961",
        ),
        _leak("leak-date-birth-glued-digits", ("15041961",), ImageComments="DOB15041961"),
        _leak(
            "leak-date-birth-dotted-single-digit-month",
            ("15.4.1961",),
            SeriesDescription="LUNG 15.4.1961",
        ),
        _leak(
            "leak-date-birth-month-abbreviation-two-digit-year",
            ("15-Apr-61",),
            StudyDescription="XR CHEST 15-Apr-61",
            scanner=dx,
        ),
        _leak(
            "leak-date-study-slashes-in-image-comments",
            ("24/03/2020",),
            ImageComments="portable 24/03/2020",
        ),
        _leak(
            "leak-date-study-short-in-series-description",
            ("24.3.20",),
            SeriesDescription="CHEST PA 24.3.20",
            scanner=cr,
        ),
        _leak(
            "leak-date-study-words-in-study-description",
            ("1st April 2020",),
            StudyDescription="XR CHEST 1st April 2020",
            person=SEAN,
            scanner=cr,
        ),
        # IDs: the patient ID, accession number and other IDs in other spellings.
        _leak(
            "leak-id-mrn-prefixed-in-study-description",
            ("RX1234567",),
            StudyDescription="CT CHEST MRN: RX1234567",
        ),
        _leak(
            "leak-id-dashed-in-series-description",
            ("RX-1234567",),
            SeriesDescription="RX-1234567 LUNG",
        ),
        _leak(
            "leak-id-spaced-in-image-comments", ("RX 1234567",), ImageComments="hosp no RX 1234567"
        ),
        _leak(
            "leak-id-digits-only-in-requested-procedure",
            ("1234567",),
            RequestedProcedureDescription="CT CHEST hosp no 1234567",
        ),
        _leak(
            "leak-id-trust-prefix-glued",
            ("RXH1234567",),
            PerformedProcedureStepDescription="CT CHEST RXH1234567",
        ),
        _leak(
            "leak-id-lower-case-in-image-comments",
            ("rx1234567",),
            ImageComments="pt rx1234567",
            scanner=cr,
        ),
        _leak(
            "leak-id-accession-with-separators",
            ("ACC-9988-7766",),
            StudyDescription="CT CHEST ACC-9988-7766",
        ),
        _leak("leak-id-accession-digits-spaced", ("99887766",), ImageComments="order 9988 7766"),
        _leak(
            "leak-id-accession-as-code-value",
            ("ACC99887766",),
            _codes("RequestedProcedureCodeSequence", _code("ACC99887766", "99RIS", "CT CHEST")),
        ),
        _leak("leak-id-other-patient-id-spaced", ("SNG 0099123", "SNG0099123"), _other_id),
        _leak(
            "leak-id-other-patient-ids-retired-element",
            ("K0099456",),
            OtherPatientIDs="K0099456",
            SeriesDescription="CHEST K0099456",
            person=SEAN,
            scanner=cr,
        ),
        _leak(
            "leak-id-study-id-without-dash",
            ("CT200457",),
            StudyID="CT20-0457",
            StudyDescription="CT CHEST CT200457",
            person=SEAN,
        ),
        _leak(
            "leak-id-header-nhs-number-spaced",
            (_nhs_spaced(ZOE.nhs_number),),
            StudyDescription=f"CT CHEST NHS {_nhs_spaced(ZOE.nhs_number)}",
        ),
        # Generic patterns that the header does not hold.
        _leak(
            "leak-pattern-nhs-number-spaced",
            (_NHS_A,),
            ImageComments=f"NHS no {_nhs_spaced(_NHS_A)}",
        ),
        _leak(
            "leak-pattern-nhs-number-unspaced",
            (_NHS_B,),
            StudyDescription=f"XR CHEST {_NHS_B}",
            person=SEAN,
            scanner=cr,
        ),
        _leak(
            "leak-pattern-nhs-number-dashed",
            (_NHS_C,),
            SeriesDescription=f"PA {_nhs_spaced(_NHS_C, '-')}",
            person=PRIYA,
            scanner=dx,
        ),
        _leak(
            "leak-pattern-nhs-number-dotted",
            (_NHS_D,),
            RequestedProcedureDescription=f"CT CHEST {_nhs_spaced(_NHS_D, '.')}",
        ),
        _leak(
            "leak-pattern-nhs-number-prefix-glued",
            (_NHS_E,),
            ImageComments=f"NHS{_NHS_E}",
            person=SEAN,
        ),
        _leak(
            "leak-pattern-phone-landline", ("01632 960456",), ImageComments="contact 01632 960456"
        ),
        _leak(
            "leak-pattern-phone-international",
            ("+44 1632 960789",),
            StudyDescription="CT CHEST +44 1632 960789",
        ),
        _leak(
            "leak-pattern-phone-mobile",
            ("07700 900123",),
            PerformedProcedureStepDescription="XR CHEST 07700 900123",
            person=SEAN,
            scanner=cr,
        ),
        _leak(
            "leak-pattern-phone-bracketed-area-code",
            ("(01632) 960321",),
            RequestedProcedureDescription="CXR call (01632) 960321",
            person=PRIYA,
            scanner=dx,
        ),
        _leak(
            "leak-pattern-phone-london",
            ("020 7946 0018",),
            SeriesDescription="call 020 7946 0018",
            person=PRIYA,
        ),
        _leak(
            "leak-pattern-phone-header-number-unspaced",
            ("01632960123",),
            ImageComments="tel 01632960123",
        ),
        _leak(
            "leak-pattern-postcode-of-header-address",
            ("TV1 2XY",),
            StudyDescription="CT CHEST TV1 2XY",
        ),
        _leak(
            "leak-pattern-postcode-of-header-address-unspaced",
            ("TV12XY",),
            ImageComments="home TV12XY",
            scanner=cr,
        ),
        _leak(
            "leak-pattern-postcode-generic",
            ("TV10 4QQ",),
            ImageComments="transfer from TV10 4QQ",
            person=SEAN,
        ),
        _leak(
            "leak-pattern-postcode-generic-letter-district",
            ("TV1A 3BD",),
            SeriesDescription="PA TV1A 3BD",
            person=PRIYA,
            scanner=dx,
        ),
        _leak(
            "leak-pattern-email-personal",
            ("zoe.muller@nowhere-hospital.nhs.uk",),
            ImageComments="report to zoe.muller@nowhere-hospital.nhs.uk",
        ),
        _leak(
            "leak-pattern-email-department",
            ("ct.bookings@sngh.nhs.uk",),
            RequestedProcedureDescription="ct.bookings@sngh.nhs.uk",
            person=SEAN,
            scanner=cr,
        ),
        _leak(
            "leak-pattern-url-viewer-in-image-comments",
            ("pacs.nowhere-hospital.nhs.uk", "pid=RX1234567"),
            ImageComments="https://pacs.nowhere-hospital.nhs.uk/viewer?pid=RX1234567",
        ),
        _leak(
            "leak-pattern-url-retrieve-url",
            ("pacs.nowhere-hospital.nhs.uk",),
            RetrieveURL="https://pacs.nowhere-hospital.nhs.uk/dicomweb/studies",
        ),
        # Address parts (PatientAddress is split on "^").
        _leak(
            "leak-address-street-in-image-comments",
            ("Imaginary Lane",),
            ImageComments="lives Imaginary Lane",
        ),
        _leak(
            "leak-address-town-in-study-description",
            ("Testville",),
            StudyDescription="XR CHEST TESTVILLE",
            scanner=cr,
        ),
        _leak(
            "leak-address-street-abbreviated", ("12 Imaginary Ln",), ImageComments="12 Imaginary Ln"
        ),
        _leak(
            "leak-address-institution-street",
            ("Quillfeather Road",),
            ImageComments="Quillfeather Road site",
        ),
        _leak(
            "leak-address-town-of-second-patient",
            ("Mockford",),
            SeriesDescription="CHEST PA MOCKFORD",
            person=SEAN,
            scanner=cr,
        ),
        # The institution in local code sequences and descriptions.
        _leak(
            "leak-institution-short-name-in-procedure-code",
            ("St Nowhere",),
            _codes(
                "ProcedureCodeSequence", _code("CTCH", LOCAL_CODING_SCHEME, "St Nowhere CT Chest")
            ),
        ),
        _leak(
            "leak-institution-abbreviation-in-requested-procedure-code",
            ("SNGH",),
            _codes(
                "RequestedProcedureCodeSequence",
                _code("CTTHX", LOCAL_CODING_SCHEME, "SNGH CT THORAX"),
            ),
        ),
        _leak(
            "leak-institution-short-name-in-performed-protocol-code",
            ("Nowhere Gen",),
            _codes(
                "PerformedProtocolCodeSequence",
                _code("CT01", LOCAL_CODING_SCHEME, "Nowhere Gen CT Chest"),
            ),
            person=SEAN,
        ),
        _leak(
            "leak-institution-in-anatomic-region-code",
            ("St Nowhere",),
            _codes(
                "AnatomicRegionSequence", _code("CH", LOCAL_CODING_SCHEME, "Chest (St Nowhere)")
            ),
            person=PRIYA,
            scanner=dx,
        ),
        _leak(
            "leak-institution-abbreviation-in-code-value",
            ("SNGH",),
            _codes("ProcedureCodeSequence", _code("SNGH-CTCH", "99LOCAL", "CT CHEST")),
        ),
        _leak(
            "leak-institution-abbreviation-as-coding-scheme-designator",
            (LOCAL_CODING_SCHEME,),
            _codes("ProcedureCodeSequence", _code("XRCH", LOCAL_CODING_SCHEME, "XR CHEST")),
            person=SEAN,
            scanner=cr,
        ),
        _leak(
            "leak-institution-short-name-in-study-description",
            ("St Nowhere",),
            StudyDescription="ST NOWHERE CT CHEST",
            person=PRIYA,
        ),
        _leak(
            "leak-institution-full-name-lower-case",
            ("St Nowhere General Hospital",),
            ImageComments="st nowhere general hospital",
        ),
        _leak(
            "leak-institution-joined-in-protocol-name",
            ("STNOWHERE",),
            ProtocolName="STNOWHERE_CHEST",
            person=SEAN,
        ),
        _leak(
            "leak-institution-department-words-in-study-description",
            ("Lister Wing",),
            StudyDescription="LISTER WING CT CHEST",
        ),
        _leak("leak-institution-in-performed-station-name", ("SNGH",), _performed_station),
        _leak(
            "leak-institution-station-name-in-series-description",
            ("SNGHCT01",),
            SeriesDescription="SNGHCT01 LUNG",
            person=SEAN,
        ),
        _leak(
            "leak-institution-in-institution-code-sequence",
            ("SNGH01",),
            _codes(
                "InstitutionCodeSequence",
                _code("SNGH01", "99NHSORG", "St Nowhere General Hospital"),
            ),
        ),
        _leak(
            "leak-institution-in-performed-station-name-code",
            ("SNGH",),
            _codes(
                "PerformedStationNameCodeSequence",
                _code("CT1", LOCAL_CODING_SCHEME, "SNGH CT SCANNER 1"),
            ),
        ),
        _leak(
            "leak-institution-in-performed-station-location-code",
            ("St Nowhere", "Lister Wing"),
            _codes(
                "PerformedStationGeographicLocationCodeSequence",
                _code("LW", LOCAL_CODING_SCHEME, "St Nowhere Lister Wing"),
            ),
        ),
        _leak(
            "leak-institution-station-name-as-gantry-id",
            ("SNGHCT01",),
            GantryID="SNGHCT01",
        ),
        _leak(
            "leak-institution-abbreviation-in-plate-id",
            ("SNGH",),
            PlateID="SNGH PLATE 03",
            scanner=cr,
        ),
        # At depth, in file meta, in UN and OB values, in private elements.
        _leak("leak-depth-id-in-protocol-context-text", ("RX 1234567",), _context_depth_two),
        _leak("leak-depth-name-in-concept-code-three-levels", ("MUELLER",), _context_depth_three),
        _leak(
            "leak-depth-institution-in-anatomic-region-modifier",
            ("St Nowhere",),
            _anatomic_modifier,
        ),
        _leak("leak-depth-birth-date-in-protocol-context-date", (), _context_birth_date),
        _leak(
            "leak-depth-nhs-number-in-request-attributes",
            (_NHS_A,),
            _request_attributes(ReasonForTheRequestedProcedure=f"NHS {_NHS_A} ?covid"),
        ),
        _leak(
            "leak-depth-accession-in-scheduled-protocol-code",
            ("ACC99887766",),
            _request_attributes(
                ScheduledProtocolCodeSequence=_items(_code("ACC99887766", "99RIS", "CT CHEST"))
            ),
        ),
        _leak("leak-meta-institution-in-source-ae-title", ("SNGH_PACS01",), _meta_ae),
        _leak("leak-meta-id-in-private-information", ("RX1234567", "MULLER ZOE"), _meta_private),
        _leak("leak-binary-name-in-un-vr-image-comments", ("MULLER ZOE",), _un_public),
        _leak(
            "leak-binary-name-in-un-vr-unknown-public-element",
            ("MULLER",),
            _un_unknown,
            must_deliver=False,
        ),
        _leak(
            "leak-binary-institution-in-ob-icc-profile",
            ("St Nowhere General Hospital",),
            _ob_icc,
            must_deliver=False,
        ),
        # Original instance UIDs in free text.
        _leak(
            "leak-uid-original-instance-in-image-comments",
            (str(_SOP_FOR_COPY),),
            ImageComments=f"copy of {_SOP_FOR_COPY}",
        ),
        _leak(
            "leak-uid-original-series-in-derivation-description",
            (_own_series_uid(SEAN, "leak-uid-original-series-in-derivation-description"),),
            _series_in_derivation,
            person=SEAN,
        ),
        _leak(
            "leak-uid-original-study-in-retrieve-url",
            (str(_uid("study", PRIYA.patient_id, "1")),),
            _study_in_retrieve_url,
            person=PRIYA,
        ),
    ]


def _local_codes(ds: Dataset) -> tuple[str, ...]:
    """The hospital's coding scheme designator, when a code item at any depth uses it."""
    schemes = {str(element.value) for element in ds.iterall() if element.tag == 0x00080102}
    return (LOCAL_CODING_SCHEME,) if LOCAL_CODING_SCHEME in schemes else ()


def _build_leak(leak: _Leak) -> CorpusFile:
    ds = base_image(leak.person, leak.scanner, leak.name, series=_series_number(leak.name))
    leak.mutate(ds)
    planted = _unique((*leak.spellings, *leak.person.header_planted(), *_local_codes(ds)))
    return CorpusFile(leak.name, "leak", ds, planted, leak.must_deliver)


def _series_number(name: str) -> int:
    """A stable series number per file: files of one person share a study, not a series."""
    return 100 + sum(name.encode()) % 800


# ---------------------------------------------------------------------------------------------
# Clean images: false-alarm bait


@dataclass(frozen=True)
class _Clean:
    name: str
    person: Identity
    scanner: Scanner
    mutate: Mutation | None = None
    not_planted: tuple[str, ...] = ()  # header values that are technical words here


def _person(index: int, family: str, given: str, sex: str = "F", **changes: Any) -> Identity:
    """A clean file's own made-up patient; IDs and dates derived from `index`."""
    person = Identity(
        family=family,
        given=given,
        sex=sex,
        patient_id=f"RX{5100000 + index * 731:07d}",
        birth_date=f"19{40 + index % 55:02d}{1 + index % 12:02d}{1 + index * 7 % 28:02d}",
        nhs_number=fake_nhs_number(600000 + index * 37),
        address=f"{index + 2} Saltmarsh Row^Mockford^TV7 {index % 9}RP",
        telephone=f"01632 96{index:04d}",
        accession=f"ACC{40000000 + index * 1237}",
        referring="CARLYLE^EDMUND^^DR",
        performing="LANYON^HASTIE",
        operator="PETTIGREW^TILLY",
        study_date=f"2020{4 + index % 6:02d}{1 + index % 27:02d}",
    )
    return replace(person, **changes)


def _nhs_shaped_serial(stem: int) -> str:
    """Ten digits that pass the NHS mod-11 check but are not in the 999 range."""
    from bsti_submit.deid.identifiers import nhs_check_digit

    while True:
        first_nine = f"{stem:09d}"
        check = nhs_check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)
        stem += 1


_SERIAL_A = _nhs_shaped_serial(401023213)
_SERIAL_B = _nhs_shaped_serial(451267930)
_SERIAL_C = _nhs_shaped_serial(612004417)
_VENDOR_UID = "1.3.12.2.1107.5.1.4.95032"  # shaped like a vendor's device UID, made up
_CODING_SCHEME_UID = "1.3.46.670589.11.0.0.51.4.56.1"


def _vendor_codes(ds: Dataset) -> None:
    item = _code(
        "CHEST_ROUTINE",
        "99VENDOR",
        "Chest routine",
        CodingSchemeUID=_CODING_SCHEME_UID,
    )
    ds.PerformedProtocolCodeSequence = _items(item)


def _context_creator(ds: Dataset) -> None:
    item = _code(
        "T-D3000",
        "SRT",
        "Chest",
        ContextIdentifier="4031",
        ContextUID="1.2.840.10008.6.1.308",
        MappingResource="DCMR",
        ContextGroupExtensionFlag="Y",
        ContextGroupExtensionCreatorUID="1.3.6.1.4.1.19291.2.1.4",
    )
    ds.AnatomicRegionSequence = _items(item)


def _cleans() -> list[_Clean]:
    ct, ge, philips, canon = SIEMENS_CT, GE_CT, PHILIPS_CT, CANON_CT
    cr, dx, gdx, mr, gmr = PHILIPS_CR, CANON_DX, GE_DX, SIEMENS_MR, GE_MR
    return [
        # Plain images with normal headers.
        _Clean(
            "clean-plain-ct-chest-high-res",
            _person(1, "HALLORAN", "BRIDGET"),
            ct,
            _set(StudyDescription="CT CHEST HIGH RES", SeriesDescription="LUNG 1.0 B70f"),
        ),
        _Clean(
            "clean-plain-ct-covid-pneumonia",
            _person(2, "ACKROYD", "DESMOND", "M"),
            ge,
            _set(StudyDescription="COVID-19 ?PNEUMONIA", SeriesDescription="1.25mm LUNG"),
        ),
        _Clean(
            "clean-plain-cr-chest-pa-erect",
            _person(3, "PEVENSEY", "MARGUERITE"),
            cr,
            _set(StudyDescription="CHEST PA ERECT", SeriesDescription="PA"),
        ),
        _Clean(
            "clean-plain-dx-chest-ap-mobile",
            _person(4, "TRELAWNEY", "OSWIN", "M"),
            dx,
            _set(
                StudyDescription="CHEST AP MOBILE",
                SeriesDescription="AP SUPINE",
                ViewPosition="AP",
            ),
        ),
        _Clean(
            "clean-plain-dx-ge-covid",
            _person(5, "QUENBY", "ROSALIND"),
            gdx,
            _set(StudyDescription="XR CHEST COVID-19 ?PNEUMONIA"),
        ),
        _Clean(
            "clean-plain-mr-thorax",
            _person(6, "VANTERPOOL", "CORMAC", "M"),
            mr,
            _set(SeriesDescription="t2_haste_tra_mbh", ProtocolName="t2_haste_tra_mbh"),
        ),
        _Clean(
            "clean-plain-mr-ge-thorax",
            _person(7, "ISHERWOOD", "PERPETUA"),
            gmr,
            _set(SeriesDescription="Ax T2 FSE BH", ProtocolName="CHEST/MEDIASTINUM"),
        ),
        _Clean(
            "clean-plain-ct-philips-idose",
            _person(8, "BALLANTYNE", "EUSTACE", "M"),
            philips,
            _set(SeriesDescription="Chest 1.0 iDose (4)", StudyDescription="CT THORAX"),
        ),
        _Clean(
            "clean-plain-ct-canon-fc52",
            _person(9, "NETTLEFOLD", "HONORIA"),
            canon,
            _set(SeriesDescription="LUNG 1.0 FC52 AIDR 3D", StudyDescription="CT CHEST HRCT"),
        ),
        _Clean(
            "clean-plain-ct-contrast",
            _person(10, "WYNDHAM-PRICE", "ALARIC", "M"),
            ct,
            _set(
                StudyDescription="CT PULMONARY ANGIOGRAM",
                SeriesDescription="CTPA 1.0 Br40",
                ContrastBolusAgent="OMNIPAQUE 350",
                ContrastBolusVolume="60",
            ),
        ),
        # Name parts equal to modalities, technical words or the profile's own words.
        _Clean(
            "clean-name-part-ct-equals-modality",
            _person(11, "CT", "RUTH", middle="MARY"),
            ct,
            not_planted=("CT",),
        ),
        _Clean(
            "clean-name-part-ob-with-underscored-protocol",
            _person(12, "OB", "LENA"),
            cr,
            _set(ProtocolName="OB_GENERAL", AcquisitionDeviceProcessingDescription="OB_GENERAL"),
            not_planted=("OB",),
        ),
        _Clean(
            "clean-name-part-ma-in-tube-current-text",
            _person(13, "MA", "LIN"),
            ct,
            _set(SeriesDescription="LOW DOSE 40 MA", ProtocolName="LOW DOSE CHEST 40 MA"),
            not_planted=("MA",),
        ),
        _Clean(
            "clean-name-part-do-in-image-comments",
            _person(14, "DO", "MINH", "M"),
            dx,
            _set(ImageComments="DO NOT DELETE"),
            not_planted=("DO",),
        ),
        _Clean(
            "clean-name-standard-equals-kernel",
            _person(15, "STANDARD", "WILHELMINA"),
            ge,
            not_planted=("STANDARD",),
        ),
        _Clean(
            "clean-name-primary-axial-equals-image-type",
            _person(16, "PRIMARY", "AXIAL"),
            ct,
            not_planted=("PRIMARY", "AXIAL"),
        ),
        _Clean(
            "clean-name-chest-equals-body-part",
            _person(17, "CHEST", "HARRIET"),
            cr,
            not_planted=("CHEST",),
        ),
        _Clean(
            "clean-name-bone-equals-kernel",
            _person(18, "BONE", "ANDREW", "M"),
            ge,
            _set(ConvolutionKernel="BONE", SeriesDescription="1.25mm BONE"),
            not_planted=("BONE",),
        ),
        _Clean(
            "clean-name-helical-equals-scan-options",
            _person(19, "HELICAL", "BRIONY"),
            ct,
            not_planted=("HELICAL",),
        ),
        _Clean(
            "clean-name-retain-option-equals-method-words",
            _person(20, "RETAIN", "OPTION"),
            ct,
            not_planted=("RETAIN", "OPTION"),
        ),
        _Clean(
            "clean-name-clean-equals-method-words",
            _person(21, "CLEAN", "ELEANOR"),
            ct,
            not_planted=("CLEAN",),
        ),
        _Clean(
            "clean-name-british-equals-sponsor-words",
            _person(22, "BRITISH", "IMOGEN"),
            dx,
            not_planted=("BRITISH",),
        ),
        _Clean(
            "clean-name-lung-equals-window-explanation",
            _person(23, "LUNG", "FILIP", "M"),
            ct,
            not_planted=("LUNG",),
        ),
        _Clean(
            "clean-name-ward-in-image-comments",
            _person(24, "WARD", "MOLLY"),
            dx,
            _set(ImageComments="PORTABLE ON WARD"),
            not_planted=("WARD",),
        ),
        _Clean(
            "clean-name-philips-equals-manufacturer",
            _person(48, "PHILIPS", "GRACE"),
            philips,
            not_planted=("PHILIPS",),
        ),
        _Clean(
            "clean-name-part-ge-equals-manufacturer-word",
            _person(49, "GE", "HUA", "M"),
            ge,
            not_planted=("GE",),
        ),
        # Institutions and departments that equal device words.
        _Clean(
            "clean-institution-equals-manufacturer",
            _person(25, "GOLIGHTLY", "SERAPHINA", institution="SIEMENS"),
            ct,
            not_planted=("SIEMENS",),
        ),
        _Clean(
            "clean-institution-philips-site-with-philips-scanner",
            _person(26, "ORMEROD", "JASPER", "M", institution="Philips"),
            philips,
            not_planted=("Philips",),
        ),
        _Clean(
            "clean-institution-comma-part-equals-modality",
            _person(27, "KINGSWELL", "AUGUSTA", institution="Testville NHS Trust, CT"),
            ct,
        ),
        _Clean(
            "clean-department-equals-modality",
            _person(28, "FETTERLEY", "NIAMH", department="CT"),
            ct,
            not_planted=("CT",),
        ),
        _Clean(
            "clean-station-name-with-underscores",
            _person(29, "PRENDERGAST", "LUCIUS", "M", station="SIEMENS_RIS"),
            ct,
        ),
        _Clean(
            "clean-manufacturer-with-underscore-canon",
            _person(30, "ASHWORTH", "DELPHINE"),
            canon,
        ),
        # Numbers that resemble identifiers.
        _Clean(
            "clean-number-study-id-equals-window-center",
            _person(31, "MARCHBANKS", "TOBIAS", "M"),
            ct,
            _set(StudyID="40"),
        ),
        _Clean(
            "clean-number-series-number-equals-study-date",
            _person(32, "CLOVELLY", "ESME"),
            ct,
            _series_number_is_study_date,
            not_planted=("*study_date",),
        ),
        _Clean(
            "clean-number-nhs-shaped-detector-id",
            _person(33, "GREATOREX", "BARNABY", "M"),
            dx,
            _set(DetectorID=_SERIAL_A, DetectorDescription="CXDI-710C"),
        ),
        _Clean(
            "clean-number-nhs-shaped-software-version",
            _person(34, "AMBLESIDE", "HESTER"),
            ct,
            _set(SoftwareVersions=["syngo CT VA48A", _SERIAL_B]),
        ),
        _Clean(
            "clean-number-nhs-shaped-device-serial",
            _person(35, "FOTHERGILL", "PIERS", "M"),
            ge,
            _set(DeviceSerialNumber=_SERIAL_C),
        ),
        _Clean(
            "clean-number-nhs-shaped-gantry-id",
            _person(36, "HOLLINGSWORTH", "CLEMENTINE"),
            ct,
            _set(GantryID=_SERIAL_A),
        ),
        _Clean(
            "clean-number-long-zero-runs",
            _person(37, "DUNSTABLE", "ROLAND", "M"),
            ct,
            _set(
                ImageOrientationPatient=[
                    "1.0000000000",
                    "0.0000000000",
                    "0.0000000000",
                    "0.0000000000",
                    "1.0000000000",
                    "0.0000000000",
                ],
                GantryDetectorTilt="0.000000000",
                TableHeight="0.0000000000",
            ),
        ),
        _Clean(
            "clean-number-phone-like-cassette-id",
            _person(38, "LAVENHAM", "PRUDENCE"),
            cr,
            _set(CassetteID="0163 2960 1234", PlateID="07700 900111"),
        ),
        _Clean(
            "clean-number-dose-values",
            _person(39, "ELLINGHAM", "SILAS", "M"),
            dx,
            _set(
                EntranceDoseInmGy=0.0123456789,
                ImageAndFluoroscopyAreaDoseProduct=0.0000000012,
                ExposureIndex=1961.0,
                RelativeXRayExposure=1204,
            ),
        ),
        _Clean(
            "clean-number-mr-sequence-names-postcode-like",
            _person(40, "WHITLOCK", "AUDREY"),
            mr,
            _set(
                SeriesDescription="T1W 3D VIBE",
                ProtocolName="T1W 3D",
                SequenceName="*fl3d1",
                MRAcquisitionType="3D",
            ),
        ),
        # UIDs that are not DICOM's own but are no instance's.
        _Clean(
            "clean-uid-vendor-coding-scheme-uid",
            _person(41, "CARRINGTON", "EZRA", "M"),
            philips,
            _vendor_codes,
        ),
        _Clean(
            "clean-uid-device-uid",
            _person(42, "MONTAGUE", "LETITIA"),
            ct,
            _set(DeviceUID=_VENDOR_UID),
        ),
        _Clean(
            "clean-uid-context-group-extension-creator",
            _person(43, "PEABODY", "CORNELIUS", "M"),
            dx,
            _context_creator,
        ),
        # Dates and words that resemble the profile's own values.
        _Clean(
            "clean-date-birth-date-equals-dummy-date",
            _person(44, "HARGREAVES", "WINIFRED", birth_date="19000101"),
            cr,
            not_planted=("*birth_date",),
        ),
        _Clean(
            "clean-text-window-explanations",
            _person(45, "SUMMERHAYES", "GIDEON", "M"),
            ct,
            _set(
                WindowCenter=["40", "-600", "300"],
                WindowWidth=["400", "1500", "1500"],
                WindowCenterWidthExplanation=["WINDOW1", "WINDOW2", "WINDOW3"],
            ),
        ),
        _Clean(
            "clean-text-kernel-and-filter-names",
            _person(46, "BLACKTHORNE", "IONA"),
            ge,
            _set(ConvolutionKernel="LUNG", FilterType="BODY FILTER", SeriesDescription="LUNG"),
        ),
        _Clean(
            "clean-text-referring-physician-prefix-only",
            _person(47, "TREGENNA", "MORWENNA", referring="^^^DR"),
            cr,
        ),
    ]


def _build_clean(clean: _Clean) -> CorpusFile:
    ds = base_image(clean.person, clean.scanner, clean.name, series=_series_number(clean.name))
    if clean.mutate is not None:
        clean.mutate(ds)
    excluded = {_fold(value) for value in clean.not_planted if not value.startswith("*")}
    if "*study_date" in clean.not_planted:
        excluded.add(clean.person.study_date)
    if "*birth_date" in clean.not_planted:
        excluded.add(clean.person.birth_date)
    planted = tuple(
        value for value in clean.person.header_planted() if _fold(value) not in excluded
    )
    return CorpusFile(clean.name, "clean", ds, planted, True)


# ---------------------------------------------------------------------------------------------
# Exports: three patients, two studies each, local codes naming the hospital


def _export_local_codes(ds: Dataset, study: int) -> None:
    """What a PACS export carries: the RIS's local procedure codes, named after the hospital."""
    kind = "CT" if study == 1 else "XR"
    code = f"{kind}CHEST0{study}"
    ds.ProcedureCodeSequence = _items(_code(code, LOCAL_CODING_SCHEME, f"SNGH {kind} CHEST"))
    ds.RequestedProcedureCodeSequence = _items(
        _code(code, LOCAL_CODING_SCHEME, f"{kind} Chest - St Nowhere")
    )
    ds.RequestedProcedureDescription = f"{kind} CHEST"


def _exports() -> list[CorpusFile]:
    files = []
    for number, person in enumerate(EXPORT_PATIENTS, start=1):
        second_date = f"{int(person.study_date[:6]) + 1}{person.study_date[6:]}"
        second = replace(person, study_date=second_date, accession=person.accession + "1")
        ct = GE_CT if number == 2 else SIEMENS_CT
        radiograph = {1: CANON_DX, 2: PHILIPS_CR, 3: SIEMENS_MR}[number]
        plans: tuple[tuple[int, Identity, Scanner, int, int], ...] = (
            (1, person, ct, 2, 5),
            (2, second, radiograph, 1, 1),
            (2, second, radiograph, 2, 1),
        )
        for study, visit, scanner, series, instances in plans:
            for instance in range(1, instances + 1):
                name = f"export-p{number}-s{study}-{scanner.modality.lower()}"
                name += f"-series{series}-i{instance}"
                ds = base_image(visit, scanner, name, str(study), series, instance)
                if series == 2 and scanner.modality != "CT":
                    ds.ViewPosition = "LL"
                    ds.SeriesDescription = "CHEST LAT"
                _export_local_codes(ds, study)
                planted = _unique((*visit.header_planted(), *_local_codes(ds)))
                files.append(CorpusFile(name, "export", ds, planted, True))
    return files


# ---------------------------------------------------------------------------------------------
# The corpus


def build_corpus() -> list[CorpusFile]:
    """Every file of the corpus, in a fixed order."""
    files = [_build_leak(leak) for leak in _leaks()]
    files += [_build_clean(clean) for clean in _cleans()]
    files += _exports()
    files += red_team_cases()
    files += red_team_round_two()
    return files


def write_corpus(folder: Path, files: list[CorpusFile]) -> dict[Path, CorpusFile]:
    """Write each file under a neutral name (f0001...), so paths carry no identifier."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for number, corpus_file in enumerate(files, start=1):
        path = folder / f"f{number:04d}"
        corpus_file.dataset.save_as(path, enforce_file_format=True)
        written[path] = corpus_file
    return written


def file_bytes(corpus_file: CorpusFile) -> bytes:
    """The Part 10 bytes `write_corpus` writes for one file."""
    buffer = BytesIO()
    corpus_file.dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def corpus_digest(files: list[CorpusFile]) -> str:
    """One SHA-256 over every file's name, kind, promises and bytes, in order."""
    digest = hashlib.sha256()
    for corpus_file in files:
        header = [corpus_file.name, corpus_file.kind, corpus_file.must_deliver]
        digest.update(json.dumps([*header, *corpus_file.planted]).encode())
        digest.update(file_bytes(corpus_file))
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# The oracle


_DIGIT_GROUP = re.compile(r"[0-9]+(?:[ ./\-][0-9]+)*")
_DIGIT_SEPARATOR = re.compile(r"[ ./\-]")
_MAX_JOINED_DIGITS = 24
_PIXEL_DATA = 0x7FE00010


def _strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(character for character in decomposed if not unicodedata.combining(character))


class _FoldTable(dict[int, str]):
    """A `str.translate` table built as characters are met: each character to its upper-case
    form without diacritics (NFKD, combining marks dropped), anything not alphanumeric to a
    space."""

    def __missing__(self, codepoint: int) -> str:
        plain = _strip_diacritics(_strip_diacritics(chr(codepoint)).upper())
        folded = "".join(character if character.isalnum() else " " for character in plain)
        self[codepoint] = folded
        return folded


class _DigitTable(dict[int, str]):
    """A `str.translate` table: digits (full-width ones too) to ASCII digits, the separators
    allowed inside a number (space . / -) kept, anything else to '#'."""

    def __missing__(self, codepoint: int) -> str:
        plain = _strip_diacritics(chr(codepoint))  # "" for a combining mark: dropped
        kept = plain.isascii() and (plain.isdigit() or plain in " ./-")
        mapped = plain if kept else "#"
        self[codepoint] = mapped
        return mapped


_FOLD_TABLE = _FoldTable()
_DIGIT_TABLE = _DigitTable()


def _fold(text: str) -> str:
    """Upper case, no diacritics, every run of non-alphanumeric characters a single space."""
    return " ".join(text.translate(_FOLD_TABLE).split())


def _decodings(data: bytes) -> list[str]:
    """The readings of a value: latin-1, utf-8 and utf-16 (both byte alignments)."""
    return [
        data.decode("latin-1"),
        data.decode("utf-8", errors="replace"),
        data.decode("utf-16-le", errors="replace"),
        data[1:].decode("utf-16-le", errors="replace"),
    ]


def _digit_runs(text: str) -> set[str]:
    """Every run of digits, and the digits of consecutive digit groups joined across single
    separators (space, dot, slash, dash): "999 123 4567" gives "9991234567"."""
    runs: set[str] = set()
    for group in _DIGIT_GROUP.finditer(text.translate(_DIGIT_TABLE)):
        tokens = _DIGIT_SEPARATOR.split(group.group(0))
        for start in range(len(tokens)):
            joined = ""
            for token in tokens[start:]:
                joined += token
                if len(joined) > _MAX_JOINED_DIGITS:
                    break
                runs.add(joined)
    return runs


def _element_values(data: bytes) -> list[bytes]:
    """Each element's stored value on its own, at every depth, file meta included (pixel data
    aside); empty when the bytes do not parse."""
    try:
        dataset = pydicom.dcmread(BytesIO(data), force=True)
    except Exception:  # the oracle must not depend on the file being well formed
        return []
    values: list[bytes] = []

    def walk(item: Dataset) -> None:
        for tag in list(item.keys()):
            if tag == _PIXEL_DATA:
                continue
            raw = item.get_item(tag)
            if isinstance(raw, RawDataElement) and raw.VR not in (None, "SQ", "UN"):
                values.append(raw.value or b"")  # as stored: no decoding needed
                continue
            try:
                element = item[tag]
            except Exception:  # noqa: S112 - an unreadable element is in the whole-file search
                continue
            if element.VR == "SQ":
                for child in element.value:
                    walk(child)
            elif isinstance(raw, RawDataElement) and isinstance(raw.value, bytes):
                values.append(raw.value)
            elif isinstance(element.value, bytes):
                values.append(element.value)
            else:
                values.append(str(element.value).encode("utf-8"))

    walk(dataset.file_meta)
    walk(dataset)
    return values


@dataclass
class _Haystack:
    words: str  # every reading folded, each between " # " (which no folded spelling holds)
    digits: set[str]

    @classmethod
    def of(cls, data: bytes) -> _Haystack:
        """The whole file in every reading, then each element's value on its own (in its
        latin-1 and utf-8 readings), so that no neighbouring byte can hide a word boundary."""
        texts = _decodings(data)
        for value in _element_values(data):
            texts += [value.decode("latin-1"), value.decode("utf-8", errors="replace")]
        words = " # ".join(_fold(text) for text in texts)
        digits: set[str] = set()
        for text in texts:
            digits |= _digit_runs(text)
        return cls(f" # {words} # ", digits)

    def holds(self, spelling: str) -> bool:
        folded = _fold(spelling)
        if not folded:
            return False
        if f" {folded} " in self.words:
            return True
        return spelling.isdigit() and spelling in self.digits


def leaked(output: bytes, planted: Iterable[str]) -> list[str]:
    """The planted spellings found in `output`: whole words after folding case, diacritics and
    punctuation, in its latin-1, utf-8 and utf-16 readings; digit-only spellings also with
    separators removed inside a run of digits."""
    haystack = _Haystack.of(output)
    return [spelling for spelling in planted if haystack.holds(spelling)]


# ---------------------------------------------------------------------------------------------
# Running the tool over the corpus


@dataclass(frozen=True)
class Outcome:
    """What the tool did with one corpus file."""

    file: CorpusFile
    status: str
    reason: str
    output: Path | None
    leaked: tuple[str, ...]

    @property
    def delivered(self) -> bool:
        return self.status == "written"


@dataclass(frozen=True)
class CorpusRun:
    outcomes: list[Outcome]
    stray_outputs: list[Path]  # files in the output folder that no written record names


def run_corpus(files: list[CorpusFile], workdir: Path, profile: str) -> CorpusRun:
    """Write the corpus under workdir/in, run `submit` once into workdir/out with `profile`, and
    read each file's outcome from the audit log."""
    from bsti_submit.audit import read_records
    from bsti_submit.config import Settings
    from bsti_submit.run import submit

    source, out = workdir / "in", workdir / "out"
    by_path = write_corpus(source, files)
    settings = Settings.load(None, site=SITE, profile=profile, workers=1)
    summary = submit(source, out, settings)
    assert summary.audit_log is not None
    records = {
        Path(record["file"]): record
        for record in read_records(summary.audit_log)
        if record.get("type") == "file"
    }
    outcomes, named = [], set()
    for path, corpus_file in by_path.items():
        record = records.get(path, {"status": "missing", "reason": "no audit record"})
        status, reason = record["status"], record.get("reason", "")
        output = out / record["output"] if record.get("output") else None
        found: tuple[str, ...] = ()
        if status == "written" and (output is None or not output.is_file()):
            status, reason = "written-without-output", f"no output file {output}"
        elif status == "written" and output is not None:
            named.add(output.resolve())
            found = tuple(leaked(output.read_bytes(), corpus_file.planted))
        outcomes.append(Outcome(corpus_file, status, reason, output, found))
    stray = sorted(
        path for path in out.rglob("*") if path.is_file() and path.resolve() not in named
    )
    return CorpusRun(outcomes, stray)


def failures(run: CorpusRun) -> list[str]:
    """Every broken promise, one line each: a leak in a delivered file, or a file that must be
    delivered and was not."""
    lines = []
    for outcome in run.outcomes:
        name = outcome.file.name
        if outcome.leaked:
            lines.append(f"{name}: LEAKED {', '.join(map(repr, outcome.leaked))}")
        if outcome.file.must_deliver and not outcome.delivered:
            lines.append(f"{name}: NOT DELIVERED ({outcome.status}: {outcome.reason})")
    lines += [f"unaccounted output file {path.name}" for path in run.stray_outputs]
    return lines


def tally(run: CorpusRun) -> dict[str, dict[str, int]]:
    """Per kind: files, delivered, held, false holds (held but must deliver), other (skipped,
    failed), leaked (delivered with a planted spelling)."""
    table: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    for outcome in run.outcomes:
        counts = table[outcome.file.kind]
        counts["files"] += 1
        if outcome.delivered:
            counts["delivered"] += 1
        elif outcome.status == "quarantined":
            counts["held"] += 1
        else:
            counts["other"] += 1
        if outcome.file.must_deliver and not outcome.delivered:
            counts["false_holds"] += 1
        if outcome.leaked:
            counts["leaked"] += 1
    columns = ("files", "delivered", "held", "false_holds", "other", "leaked")
    return {kind: {column: table[kind][column] for column in columns} for kind in KINDS}


_ISOLATED_VARIABLES = (
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_DIRS",
)


@contextmanager
def isolated_environment(home: Path) -> Iterator[None]:
    """Config, data, state and cache folders under `home`, no BSTI_SUBMIT_* settings; restored
    afterwards."""
    saved = dict(os.environ)
    try:
        for variable in _ISOLATED_VARIABLES:
            os.environ[variable] = str(home / variable.lower())
        for variable in [name for name in os.environ if name.startswith("BSTI_SUBMIT_")]:
            del os.environ[variable]
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def outcome_table(profile: str, files: list[CorpusFile] | None = None) -> dict[str, Any]:
    """Run the corpus with one profile in a throw-away, isolated folder: the counts per kind and
    the failures."""
    corpus = files if files is not None else build_corpus()
    with tempfile.TemporaryDirectory(prefix="bsti-corpus-") as temporary:
        workdir = Path(temporary)
        with isolated_environment(workdir / "home"):
            run = run_corpus(corpus, workdir, profile)
    return {"profile": profile, "kinds": tally(run), "failures": failures(run)}


def _print_table(result: dict[str, Any]) -> None:
    columns = ("files", "delivered", "held", "false_holds", "other", "leaked")
    print(f"\nprofile {result['profile']}")
    print(f"  {'kind':<8}" + "".join(f"{column:>12}" for column in columns))
    for kind, counts in result["kinds"].items():
        print(f"  {kind:<8}" + "".join(f"{counts[column]:>12}" for column in columns))


def main(argv: list[str]) -> int:
    """Print the outcome table for each profile; `--failures` lists them, `--json` dumps all,
    `--digest` prints the corpus digest, `--classes` the number of files of each class."""
    corpus = build_corpus()
    if "--digest" in argv:
        print(corpus_digest(corpus))
        return 0
    if "--classes" in argv:
        for group, count in Counter(item.group for item in corpus).items():
            print(f"{group:<20}{count:>5}")
        return 0
    results = [outcome_table(profile, corpus) for profile in PROFILES]
    if "--json" in argv:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return 0
    for result in results:
        _print_table(result)
        if "--failures" in argv:
            for line in result["failures"]:
                print(f"    {line}")
    return 0


# ---------------------------------------------------------------------------------------------
# Red team: held-out cases in classes the corpus above does not cover. Three more made-up
# hospitals (Scottish, Welsh, English) and their patients: Gaelic and Welsh name forms, letters
# that do not decompose (ß ø æ ł), Greek and Cyrillic names, names held in other person
# attributes, CHI numbers, more spellings of dates and IDs, places by other words; and technical
# bait that only looks like an identifier.


def _at(site: dict[str, str], **fields: Any) -> Identity:
    """A made-up patient of one of the red team's hospitals."""
    return Identity(**{**site, **fields})


_GLENVARLOCH = {
    "institution": "Glenvarloch Royal Infirmary",
    "institution_address": "1 Infirmary Wynd^Dunmorlie^TV31 9GR",
    "department": "Balquhidder Imaging Suite",
    "station": "GRICT02",
    "issuer": "GRI PAS",
    "referring": "DRUMMOND^FENELLA^^DR",
    "performing": "STRACHAN^IAIN",
    "operator": "BAIRD^CATRIONA",
}
_TAWELWCH = {
    "institution": "Ysbyty Cwm Tawelwch",
    "institution_address": "Ffordd yr Ysbyty^Llanwennol^TV44 8YC",
    "department": "Adran Radioleg",
    "station": "YCTDX01",
    "issuer": "YCT PAS",
    "referring": "PRICHARD^GWILYM^^DR",
    "performing": "HOPKIN^SIONED",
    "operator": "LLEWELYN^DAFYDD",
}
_MARROWFIELD = {
    "institution": "University Hospital of Marrowfield",
    "institution_address": "200 Beacon Lane^Marrowfield^TV60 1UH",
    "department": "Harebell Wing Imaging",
    "station": "UHMCT03",
    "issuer": "UHM PAS",
    "referring": "ABERCROMBIE^NEVILLE^^DR",
    "performing": "OYELARAN^FUNMILAYO",
    "operator": "KETTERIDGE^BRONWEN",
}

EILIDH = _at(  # Scotland: the CHI number (birth date, serial, sex digit, check) is the patient ID
    {**_GLENVARLOCH, "issuer": "NHSS-CHI"},
    family="MACLEOD",
    given="EILIDH",
    middle="MORAG",
    patient_id="0703581023",
    birth_date="19580307",
    address="14 Ptarmigan Brae^Dunmorlie^TV31 4ZQ",
    telephone="0131 496 0372",
    accession="GRI20A00417",
    study_date="20200508",
)
ALASDAIR = _at(
    _GLENVARLOCH,
    family="MCDONALD",
    given="ALASDAIR",
    patient_id="GR0388214",
    birth_date="19711123",
    sex="M",
    address="6 Sgurr View^Kinlochard^TV33 2NE",
    telephone="0141 496 0655",
    accession="GRI20A00952",
    study_date="20200512",
)
ISLA = _at(
    _GLENVARLOCH,
    family="MAC INNES",
    given="ISLA",
    patient_id="GR0519377",
    birth_date="19930419",
    address="2 Lochan Road^Kinlochard^TV33 5RW",
    telephone="0141 496 0117",
    accession="GRI20A01288",
    study_date="20200513",
)
MAIRI = _at(  # a purely numeric hospital number with leading zeros
    _GLENVARLOCH,
    family="KINLOCH",
    given="MAIRI",
    patient_id="00412873",
    birth_date="19520611",
    address="31 Corrie Terrace^Dunmorlie^TV31 7DB",
    telephone="0131 496 0948",
    accession="GRI20A01702",
    study_date="20200514",
)
LACHLAN = _at(  # a child: his mother is the responsible person
    _GLENVARLOCH,
    family="MACINTYRE",
    given="LACHLAN",
    patient_id="GR0627451",
    birth_date="20140902",
    sex="M",
    address="9 Rowan Brae^Dunmorlie^TV31 6JS",
    telephone="0131 496 0561",
    accession="GRI20A02044",
    study_date="20200526",
)
RHIANNON = _at(
    _TAWELWCH,
    family="AP GRUFFYDD",
    given="RHIANNON",
    patient_id="YC4471902",
    birth_date="19660916",
    nhs_number=fake_nhs_number(660916),
    address="3 Heol y Dderwen^Llanwennol^TV44 7HD",
    telephone="029 2018 0744",
    accession="YCT5510284",
    study_date="20200515",
)
FFION = _at(
    _TAWELWCH,
    family="VAUGHAN WILLIAMS",
    given="FFION",
    patient_id="YC4480116",
    birth_date="19830214",
    nhs_number=fake_nhs_number(830214),
    address="17 Stryd y Capel^Llanwennol^TV44 2EF",
    telephone="029 2018 0391",
    accession="YCT5512097",
    study_date="20200519",
)
JORG = _at(  # ISO_IR 100: ß and ö as single Latin-1 bytes
    _MARROWFIELD,
    family="Straßburger",
    given="Jörg",
    patient_id="MH5503318",
    birth_date="19490622",
    sex="M",
    nhs_number=fake_nhs_number(490622),
    address="27 Tanners Yard^Marrowfield^TV61 3QJ",
    telephone="0113 496 0281",
    accession="UHM20004518",
    study_date="20200521",
)
SOLVEIG = _at(
    _MARROWFIELD,
    family="LØVSTAD",
    given="SOLVEIG",
    patient_id="MH5517720",
    birth_date="19770430",
    nhs_number=fake_nhs_number(770430),
    address="8 Osier Court^Marrowfield^TV62 5LB",
    telephone="0113 496 0734",
    accession="UHM20004966",
    study_date="20200522",
)
HALVARD = _at(
    _MARROWFIELD,
    family="BRÆKKE",
    given="HALVARD",
    patient_id="MH5524406",
    birth_date="19630105",
    sex="M",
    nhs_number=fake_nhs_number(630105),
    address="44 Weir Street^Marrowfield^TV62 8TT",
    telephone="0113 496 0052",
    accession="UHM20005230",
    study_date="20200522",
)
MALGORZATA = _at(
    _MARROWFIELD,
    family="WŁODARCZYK",
    given="MAŁGORZATA",
    patient_id="MH5540262",
    birth_date="19690317",
    nhs_number=fake_nhs_number(690317),
    address="5 Chandlers Row^Marrowfield^TV63 4NA",
    telephone="0113 496 0619",
    accession="UHM20005871",
    study_date="20200525",
    charset="ISO_IR 192",
)
NIKOS = _at(
    _MARROWFIELD,
    family="PAPADOPOULOS",
    given="NIKOS",
    ideographic="Παπαδόπουλος^Νίκος",
    patient_id="MH5558841",
    birth_date="19550928",
    sex="M",
    nhs_number=fake_nhs_number(550928),
    address="12 Ropewalk^Marrowfield^TV63 9SE",
    telephone="0113 496 0826",
    accession="UHM20006134",
    study_date="20200527",
    charset="ISO_IR 192",
)
OKSANA = _at(  # the name only in Cyrillic: no Latin spelling in the header
    _MARROWFIELD,
    family="КОВАЛЕНКО",
    given="ОКСАНА",  # noqa: RUF001 - Cyrillic on purpose
    patient_id="MH5563307",
    birth_date="19900704",
    nhs_number=fake_nhs_number(900704),
    address="60 Lime Kiln Lane^Marrowfield^TV64 1PF",
    telephone="0113 496 0497",
    accession="UHM20006405",
    study_date="20200528",
    charset="ISO_IR 192",
)

_EILIDH_CHI_DASHED = "070358-1023"
_ALASDAIR_CHI = "2311714015"  # his CHI number: birth date 23/11/71, male, valid check digit
_RED_NHS = fake_nhs_number(424117)


def _red_protocol_context(*contexts: Dataset, meaning: str = "CT CHEST") -> Mutation:
    """PerformedProtocolCodeSequence > ProtocolContextSequence holding `contexts`."""

    def mutate(ds: Dataset) -> None:
        protocol = _code("CTCHEST", "99LOCAL", meaning, ProtocolContextSequence=_items(*contexts))
        ds.PerformedProtocolCodeSequence = _items(protocol)

    return mutate


def _content_item(value_type: str, concept: Dataset, **attributes: Any) -> Dataset:
    item = Dataset()
    item.ValueType = value_type
    item.ConceptNameCodeSequence = _items(concept)
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def _procedure(meaning: str, value: str = "CTCH", scheme: str = "99LOCAL") -> Mutation:
    """ProcedureCodeSequence (not in Table E.1-1: kept, then cleaned, by both profiles)."""
    return _codes("ProcedureCodeSequence", _code(value, scheme, meaning))


def _person_at_depth(ds: Dataset) -> None:
    """A consenting clinician named only in a PNAME content item, then in a code meaning."""
    consent = _content_item(
        "PNAME", _code("121008", "DCM", "Person Observer Name"), PersonName="PRYCE^TEGWEN"
    )
    _red_protocol_context(consent, meaning="XR CHEST")(ds)
    ds.ProcedureCodeSequence = _items(_code("XRCH", "99LOCAL", "XR CHEST per Dr Pryce"))


def _prior_study_date(ds: Dataset) -> None:
    prior = _content_item("DATE", _code("PRIORDT", "99LOCAL", "Prior study date"), Date="20190203")
    _red_protocol_context(prior)(ds)
    ds.StudyDescription = "CT CHEST cf. CT 03/02/2019"


def _utf8_bytes_in_latin1_file(ds: Dataset) -> None:
    """The RIS wrote UTF-8 into a file that declares ISO_IR 100."""
    ds.add(DataElement(0x00081030, "LO", "CT THORAX Straßburger".encode()))


def _red_team_leaks() -> list[_Leak]:
    dx = CANON_DX
    return [
        # Names: Gaelic and Welsh forms, spaced and joined.
        _leak(
            "leak-name-mac-spaced-in-header-joined-in-text",
            ("MACINNES",),
            SeriesDescription="MACINNES PA ERECT",
            person=ISLA,
            scanner=PHILIPS_CR,
        ),
        _leak(
            "leak-name-mc-joined-in-header-spaced-in-text",
            ("Mc Donald",),
            StudyDescription="CT CHEST Mc Donald",
            person=ALASDAIR,
        ),
        _leak(  # ambiguous: Mc and Mac are interchangeable spellings, not a fold of one another
            "leak-name-mc-written-mac",
            ("MacDonald",),
            RequestedProcedureDescription="CT THORAX Mr MacDonald",
            person=ALASDAIR,
        ),
        _leak(
            "leak-name-mac-split-across-lines-in-lt",
            ("Mac Leod",),
            ExposureControlModeDescription="AEC centre chamber\r\npt Mac\r\nLeod",
            person=EILIDH,
            scanner=dx,
        ),
        _leak(
            "leak-name-lower-case-in-ut-text-value-at-depth",
            ("eilidh macleod",),
            _red_protocol_context(
                _content_item(
                    "TEXT",
                    _code("121106", "DCM", "Comment"),
                    TextValue="consent given by eilidh macleod",
                )
            ),
            person=EILIDH,
        ),
        _leak(
            "leak-name-surname-glued-to-birth-date",
            ("MACLEOD07031958", "07031958"),
            SeriesDescription="MACLEOD07031958 LUNG",
            person=EILIDH,
        ),
        _leak(
            "leak-name-dotted-initials-with-birth-date",
            ("E.M.M.", "07.03.58"),
            StudyDescription="CT CHEST E.M.M. 07.03.58",
            person=EILIDH,
        ),
        _leak(
            "leak-name-second-word-of-spaced-double-barrel-in-code-meaning",
            ("Williams",),
            _procedure("XR CHEST Mrs Williams", "XRCH"),
            person=FFION,
            scanner=dx,
        ),
        _leak(
            "leak-name-welsh-ap-joined",
            ("ApGruffydd",),
            SeriesDescription="CHEST PA ApGruffydd",
            person=RHIANNON,
            scanner=dx,
        ),
        # Names: letters that do not decompose, other scripts, other encodings.
        _leak(
            "leak-name-eszett-as-double-s",
            ("STRASSBURGER",),
            StudyDescription="CT THORAX STRASSBURGER",
            person=JORG,
        ),
        _leak(
            "leak-name-utf8-bytes-in-latin1-file",
            ("Straßburger",),
            _utf8_bytes_in_latin1_file,
            person=JORG,
        ),
        _leak(
            "leak-name-o-stroke-as-o",
            ("LOVSTAD",),
            StudyDescription="CT CHEST LOVSTAD",
            person=SOLVEIG,
        ),
        _leak(
            "leak-name-ae-ligature-as-ae",
            ("BRAEKKE",),
            SeriesDescription="BRAEKKE LUNG 1.0",
            person=HALVARD,
        ),
        _leak(
            "leak-name-l-stroke-as-l",
            ("WLODARCZYK",),
            StudyDescription="CT CHEST WLODARCZYK",
            person=MALGORZATA,
        ),
        _leak(
            "leak-name-greek-upper-case-without-accents-in-code-meaning",
            ("ΠΑΠΑΔΟΠΟΥΛΟΣ",),
            _procedure("CT ΘΩΡΑΚΟΣ ΠΑΠΑΔΟΠΟΥΛΟΣ"),
            person=NIKOS,
        ),
        _leak(  # ambiguous: a transliteration of a name the header holds in Cyrillic only
            "leak-name-cyrillic-header-latin-transliteration",
            ("KOVALENKO",),
            StudyDescription="CT CHEST KOVALENKO",
            person=OKSANA,
        ),
        # Names from other person attributes of the header.
        _leak(
            "leak-name-other-patient-names-second-value-in-code-meaning",
            ("KOWALSKA", "NOWAK"),
            _procedure("CT CHEST (Kowalska)"),
            OtherPatientNames=["NOWAK^MAŁGORZATA", "KOWALSKA^MAŁGORZATA"],
            person=MALGORZATA,
        ),
        _leak(
            "leak-name-birth-name-in-code-meaning",
            ("Campbell",),
            _procedure("CT CHEST (nee Campbell)"),
            PatientBirthName="CAMPBELL^MAIRI",
            person=MAIRI,
        ),
        _leak(
            "leak-name-responsible-person-in-requested-procedure",
            ("Isobel Galbraith", "GALBRAITH", "ISOBEL"),
            ResponsiblePerson="GALBRAITH^ISOBEL",
            ResponsiblePersonRole="MOTHER",
            RequestedProcedureDescription="CXR PAED - mother Isobel Galbraith present",
            person=LACHLAN,
            scanner=dx,
        ),
        _leak(
            "leak-person-reading-physician-in-window-explanation",
            ("URQUHART", "HAMISH"),
            NameOfPhysiciansReadingStudy="URQUHART^HAMISH",
            WindowCenterWidthExplanation=["URQUHART LUNG", "MEDIASTINUM"],
            person=EILIDH,
        ),
        _leak(
            "leak-person-physician-of-record-underscored-in-protocol-name",
            ("BANNERMAN", "KIRSTY"),
            PhysiciansOfRecord="BANNERMAN^KIRSTY",
            ProtocolName="CHEST_BANNERMAN_LDCT",
            person=ALASDAIR,
        ),
        _leak(
            "leak-person-operator-in-window-explanation-and-series-description",
            ("BAIRD",),
            WindowCenterWidthExplanation=["BAIRD LUNG", "MEDIASTINUM"],
            SeriesDescription="LUNG 1.0 BAIRD",
            person=MAIRI,
        ),
        _leak(
            "leak-name-surname-alone-in-underscored-protocol-name",
            ("MCDONALD",),
            ProtocolName="CHEST_MCDONALD_LDCT",
            person=ALASDAIR,
        ),
        _leak(
            "leak-person-pname-content-item-at-depth",
            ("Pryce", "TEGWEN"),
            _person_at_depth,
            person=RHIANNON,
            scanner=dx,
        ),
        # Dates: more spellings of the birth date, the study date and a prior date.
        _leak(
            "leak-date-birth-roman-numeral-month",
            ("07-III-1958",),
            SeriesDescription="LUNG 07-III-1958",
            person=EILIDH,
        ),
        _leak(
            "leak-date-birth-apostrophe-year-in-code-meaning",
            ("7 Mar '58",),
            _procedure("CT CHEST b. 7 Mar '58"),
            person=EILIDH,
        ),
        _leak(
            "leak-date-birth-glued-month-abbreviation",
            ("07MAR1958",),
            PerformedProcedureStepDescription="XR CHEST 07MAR1958",
            person=EILIDH,
            scanner=dx,
        ),
        _leak(
            "leak-date-birth-six-digits-ddmmyy",
            ("070358",),
            RequestedProcedureDescription="CT CHEST DOB 070358",
            person=EILIDH,
        ),
        _leak(
            "leak-date-study-iso-datetime",
            ("2020-05-08T10:15",),
            DerivationDescription="MPR from 2020-05-08T10:15 series",
            person=EILIDH,
        ),
        _leak(
            "leak-date-prior-study-date-from-content-item",
            ("03/02/2019", "20190203"),
            _prior_study_date,
            person=EILIDH,
        ),
        _leak(  # a stretch but real: the birth date in Welsh, in a bilingual Welsh hospital
            "leak-date-birth-welsh-month-name",
            ("16 Medi 1966",),
            StudyDescription="XR CHEST geni 16 Medi 1966",
            person=RHIANNON,
            scanner=dx,
        ),
        # IDs: CHI numbers, leading zeros, file names, code values, serials.
        _leak(
            "leak-id-chi-patient-id-dashed",
            (_EILIDH_CHI_DASHED,),
            StudyDescription=f"CT CHEST CHI {_EILIDH_CHI_DASHED}",
            person=EILIDH,
        ),
        _leak(
            "leak-id-chi-not-in-header-spaced",
            (_ALASDAIR_CHI,),
            RequestedProcedureDescription=(f"CT CHEST CHI {_ALASDAIR_CHI[:6]} {_ALASDAIR_CHI[6:]}"),
            person=ALASDAIR,
        ),
        _leak(
            "leak-id-numeric-id-without-leading-zeros",
            ("412873",),
            RequestedProcedureDescription="CT CHEST hosp no 412873",
            person=MAIRI,
        ),
        _leak(
            "leak-id-in-underscored-file-name",
            ("GR0388214",),
            DerivationDescription="from image_GR0388214.jpg",
            person=ALASDAIR,
        ),
        _leak(
            "leak-id-accession-inside-code-value",
            ("GRI-20A00417", "20A00417"),  # also without its letter prefix, as RX1234567 is
            _procedure("CT CHEST", "GRI-20A00417/1", "99RIS"),
            person=EILIDH,
        ),
        _leak(
            "leak-id-nhs-number-colon-glued-underscored",
            (_RED_NHS,),
            AcquisitionDeviceProcessingDescription=f"NHS:{_RED_NHS}_CHEST",
            person=FFION,
            scanner=dx,
        ),
        _leak(
            "leak-id-device-serial-in-detector-description",
            ("SN771204",),
            DeviceSerialNumber="SN771204",
            DetectorDescription="CXDI-710C s/n SN771204",
            person=HALVARD,
            scanner=dx,
        ),
        # Patterns: telephone formats, lower-case postcodes, a .scot address, a bare URL.
        _leak(
            "leak-pattern-phone-with-extension-in-detector-description",
            ("0141 496 0190",),
            DetectorDescription="CXDI-710C\r\nService desk 0141 496 0190 ext 2214",
            person=ISLA,
            scanner=dx,
        ),
        _leak(
            "leak-pattern-phone-international-with-trunk-zero",
            ("+44 (0)131 496 0815",),
            RequestedProcedureDescription="CT CHEST call +44 (0)131 496 0815",
            person=MAIRI,
        ),
        _leak(
            "leak-pattern-postcode-lower-case-header",
            ("tv31 4zq",),
            SeriesDescription="LUNG home tv31 4zq",
            person=EILIDH,
        ),
        _leak(
            "leak-pattern-email-scot-domain",
            ("radiology.gri@nhs.scot",),
            RequestedProcedureDescription="CT CHEST report to radiology.gri@nhs.scot",
            person=ALASDAIR,
        ),
        _leak(
            "leak-pattern-url-without-scheme",
            ("www.glenvarloch-ri.scot.nhs.uk", "glenvarloch-ri"),
            DerivationDescription="see www.glenvarloch-ri.scot.nhs.uk/pacs",
            person=MAIRI,
        ),
        # Places: a GP practice, a ward, and the hospitals by other words and initials.
        _leak(
            "leak-address-gp-practice-from-referring-physician-address",
            ("Larchmont Surgery", "Cobble Yard", "TV31 2PL"),
            ReferringPhysicianAddress="Larchmont Surgery^5 Cobble Yard^Dunmorlie^TV31 2PL",
            RequestedProcedureDescription="CT CHEST GP referral Larchmont Surgery",
            person=EILIDH,
        ),
        _leak(
            "leak-institution-abbreviated-words",
            ("Marrowfield",),
            StudyDescription="CT CHEST Univ. Hosp. Marrowfield",
            person=SOLVEIG,
        ),
        _leak(
            "leak-institution-initials-in-code-value",
            ("UHM",),
            _procedure("CT CHEST", "UHM-CTCH"),
            person=HALVARD,
        ),
        _leak(
            "leak-institution-ward-in-requesting-service",
            ("Harebell",),
            RequestingService="Harebell Ward 4",
            person=JORG,
        ),
        _leak(
            "leak-institution-welsh-name-in-english-form",
            ("Tawelwch",),
            StudyDescription="XR CHEST Tawelwch Hospital",
            person=FFION,
            scanner=dx,
        ),
        _leak(
            "leak-institution-initials-in-performed-protocol",
            ("GRI",),
            _codes("PerformedProtocolCodeSequence", _code("CTCHHR", "99LOCAL", "GRI CT CHEST HR")),
            person=ALASDAIR,
        ),
    ]


def _red_person(index: int, family: str, given: str, sex: str = "F", **changes: Any) -> Identity:
    """A red-team clean file's own made-up patient at Marrowfield; IDs derived from `index`."""
    person = _at(
        _MARROWFIELD,
        family=family,
        given=given,
        sex=sex,
        patient_id=f"MH{6200000 + index * 917:07d}",
        birth_date=f"19{35 + index * 3 % 60:02d}{1 + index * 5 % 12:02d}{1 + index * 11 % 28:02d}",
        nhs_number=fake_nhs_number(700000 + index * 53),
        address=f"{index + 3} Cooper's Wynd^Marrowfield^TV6{index % 10} {index % 9}HX",
        telephone=f"0113 496 {500 + index:04d}",
        accession=f"UHM{30000000 + index * 4111}",
        study_date=f"2020{5 + index % 4:02d}{2 + index % 26:02d}",
    )
    return replace(person, **changes)


_SOP_CLASS_TEXT = "JPEG 2000 (1.2.840.10008.1.2.4.90) of CT Image Storage 1.2.840.10008.5.1.4.1.1.2"


def _nhs_shaped_decimals(ds: Dataset) -> None:
    """330 mm on 512 pixels, written to ten decimals: 6445312500 and 6093750000 pass the NHS
    number check (mod 11) but are fractions of millimetres."""
    ds.ReconstructionDiameter = "330.0"
    ds.PixelSpacing = ["0.6445312500", "0.6445312500"]
    ds.ImagePositionPatient = ["-199.6093750000", "-199.6093750000", "-1.25"]


def _snomed_codes(ds: Dataset) -> None:
    suspected = _code("1240761000000102", "SCT", "Suspected disease caused by SARS-CoV-2")
    ds.ReasonForRequestedProcedureCodeSequence = _items(suspected)
    ds.ProcedureCodeSequence = _items(_code("169069000", "SCT", "CT of chest"))


def _red_team_cleans() -> list[_Clean]:
    ct, mr, dx = SIEMENS_CT, SIEMENS_MR, CANON_DX
    return [
        _Clean(
            "clean-technical-siemens-protocol-tokens",
            _red_person(1, "FAIRCLOUGH", "ROWENA"),
            ct,
            _set(
                ProtocolName="CHEST_HR_1.0_B60f",
                SeriesDescription="LUNG 1.25mm B70f",
                ConvolutionKernel="B70f",
            ),
        ),
        _Clean(
            "clean-technical-contrast-and-dose-text",
            _red_person(2, "HEATHCOTE", "LEOPOLD", "M"),
            ct,
            _set(
                StudyID="350",
                StudyDescription="CT PULMONARY ANGIOGRAM",
                SeriesDescription="CTPA DLP 250 mGy*cm CTDIvol 5.2",
                ContrastBolusAgent="OMNIPAQUE 350",
                ContrastBolusRoute="IV",
                ContrastBolusVolume="60",
            ),
        ),
        _Clean(
            "clean-technical-mr-underscored-sequence-names",
            _red_person(3, "PILKINGTON", "ODETTE"),
            mr,
            _set(
                SeriesDescription="T2_TSE_TRA",
                ProtocolName="T2_TSE_TRA_P2_BH",
                SequenceName="*tse2d1_11",
                ReceiveCoilName="Body_18",
            ),
        ),
        _Clean(
            "clean-uid-sop-class-and-transfer-syntax-in-text",
            _red_person(4, "WAINWRIGHT", "CASPIAN", "M"),
            ct,
            _set(DerivationDescription=_SOP_CLASS_TEXT),
        ),
        _Clean(  # a judgement: the calibration date is the device's, not the patient's
            "clean-date-software-build-equals-calibration-date",
            _red_person(5, "HALLIWELL", "MARIGOLD"),
            ct,
            _set(
                DateOfLastCalibration="20190501",
                SoftwareVersions=["syngo CT VA48A", "build 2019-05-01"],
            ),
        ),
        _Clean(
            "clean-date-software-build-date",
            _red_person(6, "ROOKWOOD", "AMBROSE", "M"),
            ct,
            _set(SoftwareVersions=["syngo CT VA48A", "SOMARIS/7 2019-05-01"]),
        ),
        _Clean(
            "clean-number-nhs-shaped-decimals-in-ds",
            _red_person(7, "TREMAYNE", "OCTAVIA"),
            ct,
            _nhs_shaped_decimals,
        ),
        _Clean(
            "clean-code-snomed-concept-ids",
            _red_person(8, "LANGRIDGE", "FERGUS", "M"),
            ct,
            _snomed_codes,
        ),
        _Clean(
            "clean-name-edge-equals-model-word",
            _red_person(9, "EDGE", "MARTIN", "M"),
            ct,
            not_planted=("EDGE",),
        ),
        _Clean(
            "clean-name-welsh-ap-equals-view-position",
            _at(
                _TAWELWCH,
                family="AP IFAN",
                given="CERYS",
                patient_id="YC4493350",
                birth_date="19740821",
                nhs_number=fake_nhs_number(740821),
                address="22 Lon Glyndwr^Llanwennol^TV44 3RG",
                telephone="029 2018 0516",
                accession="YCT5513760",
                study_date="20200529",
            ),
            dx,
            _set(StudyDescription="CHEST AP MOBILE", SeriesDescription="AP", ViewPosition="AP"),
        ),
        _Clean(
            "clean-name-low-equals-protocol-word",
            _red_person(10, "LOW", "FIONA"),
            ct,
            _set(SeriesDescription="LOW DOSE CHEST", ProtocolName="LOW DOSE CHEST"),
            not_planted=("LOW",),
        ),
        _Clean(
            "clean-institution-chest-hospital-with-chest-body-part",
            _red_person(
                11,
                "ASHCROFT",
                "PHILIPPA",
                institution="Kestrel Moor Chest Hospital",
                department="Chest Clinic",
            ),
            dx,
            _set(StudyDescription="XR CHEST", SeriesDescription="CHEST PA"),
        ),
        _Clean(
            "clean-institution-initials-inside-technical-word",
            _at(
                _GLENVARLOCH,
                family="SINCLAIR",
                given="MHAIRI",
                patient_id="GR0735518",
                birth_date="19810130",
                address="4 Bothy Lane^Kinlochard^TV33 8UA",
                telephone="0141 496 0322",
                accession="GRI20A02517",
                study_date="20200601",
            ),
            dx,
            _set(
                SeriesDescription="CHEST PA GRID",
                AcquisitionDeviceProcessingDescription="GRID SUPPRESSION",
            ),
        ),
        _Clean(
            "clean-text-age-statement",
            _red_person(12, "GOODHEART", "EUGENIA"),
            ct,
            _set(StudyDescription="CT CHEST ?COVID aged 49 F", SeriesDescription="LUNG 1.0"),
        ),
        _Clean(
            "clean-text-software-name-with-dot",
            _red_person(13, "NORTHCOTT", "BARTHOLOMEW", "M"),
            ct,
            _set(
                SoftwareVersions=["syngo CT VA48A", "syngo.via VB40A"],
                DerivationDescription="MPR reconstructed in syngo.via VB40A",
            ),
        ),
    ]


def red_team_cases() -> list[CorpusFile]:
    """The red team's held-out files: leaks and clean bait in classes the corpus did not have."""
    files = [_build_leak(leak) for leak in _red_team_leaks()]
    files += [_build_clean(clean) for clean in _red_team_cleans()]
    return files


# ---------------------------------------------------------------------------------------------
# Red team, round two: two more made-up English hospitals and their patients. Names with
# particles (Ní, al-), Arabic script, hyphenated given names, common words, Sikh names, a
# surname glued to an initial; Chinese and Korean names whose parts are one or two letters, and
# a Japanese name in kana only; other people's names at depth three, in private PN elements and
# in the second value of a multi-valued PN; IDs split by slashes, in brackets, in paths, with a
# check letter; NHS numbers in full-width digits or as a whole value; CHI numbers in a second
# value; birth dates in ordinal, American, Roman, dotted-ISO, yymmdd and timestamp spellings;
# wards, websites, nhs.net addresses, dotted telephone numbers, dotted and glued initials; and
# technical bait: kernels, slice text shaped like postcodes, version numbers shaped like
# telephone numbers or holding the birth year, a LUT whose binary ramp spells digits.


_QUENMOOR = {
    "institution": "Quenmoor District Hospital",
    "institution_address": "Infirmary Hill^Quenmoor^TV70 2QD",
    "department": "Bramblegate Imaging",
    "station": "QDHCT04",
    "issuer": "QDH PAS",
    "referring": "ADEYEMI^OLUWASEUN^^PROF",
    "performing": "HALVORSEN^INGRID",
    "operator": "TREVASKIS^LOWENNA",
}
_HOLCOMBE = {
    "institution": "Holcombe Priory Hospital",
    "institution_address": "Priory Walk^Dunsleigh^TV72 4HP",
    "department": "Kittiwake Imaging Centre",
    "station": "HPHDX02",
    "issuer": "HPH PAS",
    "referring": "SINGH^GURPREET^^DR",
    "performing": "ESCOFFIER^MIREILLE",
    "operator": "PARGETER^NELL",
}


def _mod11(first_nine: str) -> int | None:
    """The NHS and CHI check digit (weights 10 to 2), None when the remainder makes it 10."""
    check = 11 - sum(int(digit) * (10 - place) for place, digit in enumerate(first_nine)) % 11
    return None if check == 10 else check % 11


def _chi(birth: str, serial: str) -> str:
    """A CHI number: the birth date as DDMMYY, a serial (its last digit even for a woman), the
    check digit; the serial is stepped until the check digit exists."""
    number = int(serial)
    while True:
        first_nine = f"{birth}{number:03d}"
        check = _mod11(first_nine)
        if check is not None:
            return f"{first_nine}{check}"
        number += 2


ADAEZE = _at(
    _QUENMOOR,
    family="OKONKWO",
    given="ADAEZE",
    patient_id="QD7305518",
    birth_date="19640217",
    nhs_number=fake_nhs_number(640217),
    address="5 Heron Quay^Quenmoor^TV70 8LN",
    telephone="01632 960418",
    accession="QDA20B04411",
    study_date="20200602",
)
AOIFE = _at(
    _QUENMOOR,
    family="NÍ BHRIAIN",
    given="AOIFE",
    patient_id="QD7311042",
    birth_date="19860711",
    nhs_number=fake_nhs_number(860711),
    address="18 Curlew Gardens^Quenmoor^TV70 5SW",
    telephone="01632 960702",
    accession="QDA20B04587",
    study_date="20200603",
)
YUSUF = _at(  # an Arabic name with its Arabic form in the ideographic group
    _QUENMOOR,
    family="AL-RASHID",
    given="YUSUF",
    ideographic="الرشيد^يوسف",
    patient_id="QD7320967",
    birth_date="19750304",
    sex="M",
    nhs_number=fake_nhs_number(750304),
    address="2 Tannery Steps^Quenmoor^TV71 3GA",
    telephone="01632 960233",
    accession="QDA20B04630",
    study_date="20200604",
    charset="ISO_IR 192",
)
JEAN_LUC = _at(
    _QUENMOOR,
    family="DUBOIS",
    given="JEAN-LUC",
    patient_id="QD7334580",
    birth_date="19520130",
    sex="M",
    nhs_number=fake_nhs_number(520130),
    address="9 Wheelwright Row^Quenmoor^TV70 1JT",
    telephone="01632 960377",
    accession="QDA20B04755",
    study_date="20200608",
)
XIUYING = _at(  # family name of one character, given name of two: no part of three alone
    _QUENMOOR,
    family="WANG",
    given="XIUYING",
    ideographic="王^秀英",
    patient_id="QD7341226",
    birth_date="19810522",
    nhs_number=fake_nhs_number(810522),
    address="40 Gasworks Lane^Quenmoor^TV71 9DX",
    telephone="01632 960519",
    accession="QDA20B04819",
    study_date="20200609",
    charset="ISO_IR 192",
)
MINJUN = _at(
    _QUENMOOR,
    family="KIM",
    given="MINJUN",
    ideographic="金^敏俊",
    phonetic="김^민준",
    patient_id="QD7347731",
    birth_date="19910918",
    sex="M",
    nhs_number=fake_nhs_number(910918),
    address="3 Ferrier Court^Quenmoor^TV70 4RU",
    telephone="01632 960650",
    accession="QDA20B04866",
    study_date="20200610",
    charset="ISO_IR 192",
)
CHIHIRO = _at(  # the name only in kanji and kana: no Latin form in the header
    _QUENMOOR,
    family="",
    given="",
    ideographic="森川^千尋",
    phonetic="もりかわ^ちひろ",
    patient_id="QD7352208",
    birth_date="19730406",
    nhs_number=fake_nhs_number(730406),
    address="27 Ostler Yard^Quenmoor^TV71 2LE",
    telephone="01632 960981",
    accession="QDA20B04913",
    study_date="20200611",
    charset="ISO_IR 192",
)
ISOLDE = _at(  # the dates patient: born 23 September 1957
    _QUENMOOR,
    family="LOCKYER",
    given="ISOLDE",
    patient_id="QD7358874",
    birth_date="19570923",
    nhs_number=fake_nhs_number(570923),
    address="11 Malthouse Green^Quenmoor^TV70 6NZ",
    telephone="01632 960146",
    accession="QDA20B04978",
    study_date="20200612",
    charset="ISO_IR 192",
)
BARNABAS = _at(  # an older PAS number: seven digits and a check letter
    _QUENMOOR,
    family="ASKEW",
    given="BARNABAS",
    patient_id="4417203K",
    birth_date="19440619",
    sex="M",
    nhs_number=fake_nhs_number(440619),
    address="6 Cooperage Walk^Quenmoor^TV71 8HQ",
    telephone="01632 960295",
    accession="QDA20B05024",
    study_date="20200615",
)
TAMSIN = _at(
    _QUENMOOR,
    family="PENHALIGON",
    given="TAMSIN",
    patient_id="QD7363390",
    birth_date="19990102",
    nhs_number=fake_nhs_number(990102),
    address="14 Lanyard Close^Quenmoor^TV70 7WD",
    telephone="07700 900592",
    accession="QDA20B05071",
    study_date="20200616",
)
GRACE = _at(
    _HOLCOMBE,
    family="FOTHERBY",
    given="GRACE",
    patient_id="HP0081734",
    birth_date="19580814",
    nhs_number=fake_nhs_number(580814),
    address="8 Samphire Way^Dunsleigh^TV72 1BN",
    telephone="01632 960837",
    accession="HPH2006318",
    study_date="20200617",
)
ELSPETH = _at(
    _HOLCOMBE,
    family="ROSE",
    given="ELSPETH",
    patient_id="HP0082256",
    birth_date="19470321",
    nhs_number=fake_nhs_number(470321),
    address="22 Thrift Street^Dunsleigh^TV72 6AE",
    telephone="01632 960461",
    accession="HPH2006459",
    study_date="20200618",
)
MANDEEP = _at(
    _HOLCOMBE,
    family="DHILLON",
    given="MANDEEP",
    middle="KAUR",
    patient_id="HP0083017",
    birth_date="19770509",
    nhs_number=fake_nhs_number(770509),
    address="35 Sorrel Bank^Dunsleigh^TV73 2KF",
    telephone="01632 960528",
    accession="HPH2006582",
    study_date="20200619",
)
SEONAID = _at(  # a Scot treated in England: her CHI number is nowhere in the header
    _HOLCOMBE,
    family="GUNN",
    given="SEONAID",
    patient_id="HP0083591",
    birth_date="19720403",
    nhs_number=fake_nhs_number(720403),
    address="4 Marram Terrace^Dunsleigh^TV73 5QY",
    telephone="01632 960613",
    accession="HPH2006677",
    study_date="20200622",
)

_SEONAID_CHI = _chi("030472", "118")
_ROUND_TWO_NHS_A = fake_nhs_number(318407)
_FULLWIDTH = {ord(digit): chr(ord(digit) + 0xFEE0) for digit in "0123456789"}


def _pname_depth_three(ds: Dataset) -> None:
    """PerformedProtocolCodeSequence > ProtocolContextSequence > ContentItemModifierSequence >
    PersonName, then the same clinician in a code meaning at the top level."""
    observer = _content_item(
        "PNAME", _code("121008", "DCM", "Person Observer Name"), PersonName="NWACHUKWU^IFEOMA"
    )
    context = _content_item(
        "CODE",
        _code("G-C171", "SRT", "Laterality"),
        ConceptCodeSequence=_items(_code("G-A100", "SRT", "Right and left")),
        ContentItemModifierSequence=_items(observer),
    )
    _red_protocol_context(context)(ds)
    ds.ProcedureCodeSequence = _items(_code("CTCH", "99LOCAL", "CT CHEST protocolled Nwachukwu"))


def _private_pn(ds: Dataset) -> None:
    """The RIS's ordering clinician in a private PN element (removed by both profiles), and the
    same surname in a kept public code meaning."""
    block = ds.private_block(0x0033, "QDH RIS 2.0", create=True)
    block.add_new(0x10, "PN", "OGUNLEYE^TEMITOPE")
    ds.RequestedProcedureCodeSequence = _items(
        _code("CTTHX", "99LOCAL", "CT THORAX ordered by Ogunleye")
    )


def _contributing_equipment(ds: Dataset) -> None:
    """The PACS that converted the image, with the hospital and its station name, in a
    sequence the table does not list (kept, then cleaned)."""
    equipment = Dataset()
    equipment.PurposeOfReferenceCodeSequence = _items(_code("109103", "DCM", "Modifying Equipment"))
    equipment.Manufacturer = "Lodestar Imaging"
    equipment.InstitutionName = "Quenmoor District Hospital"
    equipment.StationName = "QDHCT04"
    equipment.ContributionDescription = "converted at Quenmoor District Hospital"
    ds.ContributingEquipmentSequence = _items(equipment)


def _request_second_item(ds: Dataset) -> None:
    """RequestAttributesSequence with two items: the accession number only in the second."""
    first, second = Dataset(), Dataset()
    first.RequestedProcedureID = "RP0811"
    first.ScheduledProcedureStepDescription = "CT CHEST"
    second.RequestedProcedureID = "RP0812"
    second.ScheduledProcedureStepDescription = "CT CHEST add-on to QDA20B04411"
    ds.RequestAttributesSequence = _items(first, second)


def _procedure_second_item(ds: Dataset) -> None:
    ds.ProcedureCodeSequence = _items(
        _code("CTCH", "99LOCAL", "CT CHEST"),
        _code("CTCHHR", "99LOCAL", "CT CHEST HR for Dubois"),
    )


def _source_image_purpose(ds: Dataset) -> None:
    """SourceImageSequence (kept by both profiles): a purpose of reference naming the ID."""
    source = Dataset()
    source.ReferencedSOPClassUID = ds.SOPClassUID
    source.ReferencedSOPInstanceUID = _uid("instance", "round-two-source", ds.PatientID)
    source.PurposeOfReferenceCodeSequence = _items(
        _code("121320", "DCM", "Uncompressed predecessor of QD7305518")
    )
    ds.SourceImageSequence = _items(source)


def _station_as_ae_title(ds: Dataset) -> None:
    """An AE title (removed at the top level) inside a kept SourceImageSequence item."""
    source = Dataset()
    source.ReferencedSOPClassUID = ds.SOPClassUID
    source.ReferencedSOPInstanceUID = _uid("instance", "round-two-ae", ds.PatientID)
    source.RetrieveAETitle = "HPHDX02"
    ds.SourceImageSequence = _items(source)


def _ut_with_line_feeds(ds: Dataset) -> None:
    note = "Indication:\n?COVID-19 pneumonitis\nPatient:\nOKONKWO\nADAEZE\n"
    comment = _content_item("TEXT", _code("121106", "DCM", "Comment"), TextValue=note)
    _red_protocol_context(comment)(ds)


def _ut_email_at_depth(ds: Dataset) -> None:
    comment = _content_item(
        "TEXT",
        _code("121106", "DCM", "Comment"),
        TextValue="Report to hph.imaging.bookings@nhs.net",
    )
    _red_protocol_context(comment)(ds)


def _round_two_leaks() -> list[_Leak]:
    cr, dx, mr = PHILIPS_CR, CANON_DX, SIEMENS_MR
    kim_hangul = "김민준"
    return [
        # Names: given name alone, titles, particles, hyphens, common words, Sikh names.
        _leak(
            "leak-name-irish-ni-particle-joined",
            ("NiBhriain",),
            SeriesDescription="LUNG 1.0 NiBhriain",
            person=AOIFE,
        ),
        _leak(
            "leak-name-surname-glued-to-given-initial",
            ("OKONKWOA",),
            _procedure("CT CHEST OKONKWOA"),
            person=ADAEZE,
        ),
        _leak(
            "leak-name-arabic-al-particle-joined",
            ("Alrashid",),
            _procedure("CT CHEST Yusuf Alrashid"),
            person=YUSUF,
        ),
        _leak(
            "leak-name-arabic-script-given-first",
            ("يوسف الرشيد",),
            _procedure("CT CHEST يوسف الرشيد"),
            person=YUSUF,
        ),
        _leak(
            "leak-name-sikh-given-and-middle-without-family",
            ("Mandeep Kaur",),
            StudyDescription="XR CHEST Mandeep Kaur",
            person=MANDEEP,
            scanner=dx,
        ),
        _leak(
            "leak-person-referring-singh-in-code-meaning",
            ("Dr Singh",),
            _procedure("XR CHEST per Dr Singh", "XRCH"),
            person=MANDEEP,
            scanner=dx,
        ),
        _leak(
            "leak-name-common-word-given-name-grace",
            ("Grace",),
            SeriesDescription="PA ERECT Grace",
            person=GRACE,
            scanner=dx,
        ),
        _leak(
            "leak-name-common-word-surname-rose-with-title",
            ("Mrs Rose",),
            _procedure("XR CHEST Mrs Rose", "XRCH"),
            person=ELSPETH,
            scanner=cr,
        ),
        _leak(
            "leak-name-hyphenated-given-glued",
            ("JEANLUC",),
            SeriesDescription="LUNG JEANLUC",
            person=JEAN_LUC,
        ),
        _leak(
            "leak-name-chinese-family-and-given-glued",
            ("王秀英",),
            _procedure("CT 胸部 王秀英"),
            person=XIUYING,
        ),
        _leak(
            "leak-name-korean-hangul-glued",
            (kim_hangul,),
            StudyDescription=f"CT CHEST {kim_hangul}",
            person=MINJUN,
        ),
        _leak(  # ambiguous: a romanisation of a name the header holds in kanji and kana only
            "leak-name-japanese-romanised-from-kana",
            ("MORIKAWA CHIHIRO",),
            _procedure("MR THORAX MORIKAWA CHIHIRO"),
            person=CHIHIRO,
            scanner=mr,
        ),
        # Names of other people, at depth, in private and multi-valued PN elements.
        _leak(
            "leak-person-pname-at-depth-three-in-kept-sequence",
            ("Nwachukwu", "IFEOMA"),
            _pname_depth_three,
            person=ADAEZE,
        ),
        _leak(
            "leak-person-private-pn-copied-to-public-code-meaning",
            ("Ogunleye", "TEMITOPE"),
            _private_pn,
            person=ADAEZE,
        ),
        _leak(
            "leak-person-second-value-of-multi-valued-pn",
            ("Farooq", "ZAINAB"),
            NamesOfIntendedRecipientsOfResults=["ADEYEMI^OLUWASEUN^^PROF", "FAROOQ^ZAINAB"],
            WindowCenterWidthExplanation=["LUNG", "MEDIASTINUM cc Farooq"],
            person=ADAEZE,
        ),
        # IDs: slashes, brackets, paths, check letters, whole values.
        _leak(
            "leak-id-split-by-slashes",
            ("QD/730/5518",),
            SeriesDescription="LUNG QD/730/5518",
            person=ADAEZE,
        ),
        _leak(
            "leak-id-lower-case-dashed-in-brackets",
            ('["qd-7305518"]', "7305518"),
            _procedure('CT CHEST ["qd-7305518"]'),
            person=ADAEZE,
        ),
        _leak(
            "leak-id-accession-in-windows-path",
            ("QDA20B04411",),
            DerivationDescription="from \\\\qdhfs01\\exports\\QDA20B04411\\IM0001",
            person=ADAEZE,
        ),
        _leak(
            "leak-id-check-letter-split-off",
            ("4417203-K", "4417203"),
            _procedure("XR CHEST hosp no 4417203-K", "XRCH"),
            person=BARNABAS,
            scanner=cr,
        ),
        _leak(
            "leak-id-nhs-number-full-width-digits",
            (_ROUND_TWO_NHS_A,),
            StudyDescription=f"CT CHEST NHS {_nhs_spaced(_ROUND_TWO_NHS_A).translate(_FULLWIDTH)}",
            person=ISOLDE,
        ),
        _leak(
            "leak-id-header-nhs-number-as-media-file-set-id",
            (TAMSIN.nhs_number,),
            StorageMediaFileSetID=TAMSIN.nhs_number,
            person=TAMSIN,
            scanner=dx,
        ),
        _leak(
            "leak-id-chi-number-in-second-value-of-lo",
            (_SEONAID_CHI,),
            AdmittingDiagnosesDescription=["?COVID-19", f"CHI {_SEONAID_CHI}"],
            WindowCenterWidthExplanation=["LUNG", f"CHI {_SEONAID_CHI}"],
            person=SEONAID,
        ),
        _leak(
            "leak-id-callback-phone-dotted",
            ("01632.960.733",),
            _procedure("XR CHEST callback 01632.960.733", "XRCH"),
            OrderCallbackPhoneNumber="01632 960733",
            person=GRACE,
            scanner=dx,
        ),
        _leak(
            "leak-pattern-phone-international-double-zero",
            ("0044 1632 960190", "1632960190"),
            WindowCenterWidthExplanation=["LUNG", "MEDIASTINUM call 0044 1632 960190"],
            person=ISOLDE,
        ),
        # Dates: the birth date (23 September 1957) in more spellings.
        _leak(
            "leak-date-birth-ordinal-with-of",
            ("23rd of September 1957",),
            _procedure("CT CHEST b. 23rd of September 1957"),
            person=ISOLDE,
        ),
        _leak(
            "leak-date-birth-month-first-apostrophe-year",
            ("Sep 23 '57",),
            WindowCenterWidthExplanation=["LUNG", "MEDIASTINUM DOB Sep 23 '57"],
            person=ISOLDE,
        ),
        _leak(
            "leak-date-birth-roman-month-dotted-short-year",
            ("23.IX.57",),
            SeriesDescription="LUNG 23.IX.57",
            person=ISOLDE,
        ),
        _leak(
            "leak-date-birth-dotted-iso",
            ("1957.09.23",),
            _procedure("CT CHEST DOB 1957.09.23"),
            person=ISOLDE,
        ),
        _leak(
            "leak-date-birth-as-datetime-in-text",
            ("19570923083000",),
            _red_protocol_context(
                _content_item(
                    "TEXT",
                    _code("121106", "DCM", "Comment"),
                    TextValue="PAS record 19570923083000",
                )
            ),
            person=ISOLDE,
        ),
        _leak(
            "leak-date-birth-six-digits-yymmdd",
            ("570923",),
            _procedure("CT CHEST DOB 570923"),
            person=ISOLDE,
        ),
        _leak(
            "leak-date-birth-us-numeric-order",
            ("09/23/1957",),
            StudyDescription="CT CHEST DOB 09/23/1957",
            person=ISOLDE,
        ),
        _leak(
            "leak-date-birth-four-letter-month-abbreviation",
            ("23 Sept 1957",),
            _procedure("CT CHEST born 23 Sept 1957"),
            person=ISOLDE,
        ),
        # Places and contact: wards, websites, nhs.net, postcodes, initials.
        _leak(
            "leak-institution-ward-named-after-hospital",
            ("Holcombe Ward",),
            _procedure("XR CHEST mobile Holcombe Ward 3", "XRCH"),
            person=GRACE,
            scanner=dx,
        ),
        _leak(
            "leak-pattern-website-without-scheme-or-www",
            ("holcombepriory.nhs.uk", "holcombepriory"),
            _procedure("XR CHEST see holcombepriory.nhs.uk/xray", "XRCH"),
            person=ELSPETH,
            scanner=cr,
        ),
        _leak(
            "leak-pattern-nhs-net-email-in-ut-at-depth",
            ("hph.imaging.bookings@nhs.net",),
            _ut_email_at_depth,
            person=ELSPETH,
        ),
        _leak(
            "leak-pattern-postcode-lower-case-unspaced-institution",
            ("tv724hp",),
            _procedure("XR CHEST tv724hp", "XRCH"),
            person=MANDEEP,
            scanner=dx,
        ),
        _leak(
            "leak-institution-dotted-initials",
            ("H.P.H.",),
            StudyDescription="XR CHEST H.P.H.",
            person=ELSPETH,
            scanner=cr,
        ),
        _leak(  # ambiguous: the initials glued to a server's own letters and number
            "leak-institution-initials-glued-in-server-name",
            ("qdhfs01",),
            _procedure("CT CHEST from qdhfs01"),
            person=ADAEZE,
        ),
        # Depth and structure.
        _leak(
            "leak-structure-institution-in-contributing-equipment",
            ("Quenmoor District Hospital", "QDHCT04"),
            _contributing_equipment,
            person=ADAEZE,
        ),
        _leak(
            "leak-structure-accession-in-second-request-item",
            ("QDA20B04411",),
            _request_second_item,
            person=ADAEZE,
        ),
        _leak(
            "leak-structure-name-in-second-item-of-procedure-code",
            ("Dubois",),
            _procedure_second_item,
            person=JEAN_LUC,
        ),
        _leak(
            "leak-structure-id-in-source-image-purpose-of-reference",
            ("QD7305518",),
            _source_image_purpose,
            person=ADAEZE,
        ),
        _leak(
            "leak-structure-station-as-ae-title-in-kept-sequence",
            ("HPHDX02",),
            _station_as_ae_title,
            person=GRACE,
            scanner=dx,
        ),
        _leak(
            "leak-structure-name-on-own-lines-of-ut-with-line-feeds",
            ("OKONKWO ADAEZE",),
            _ut_with_line_feeds,
            person=ADAEZE,
        ),
    ]


def _round_two_person(
    index: int, family: str, given: str, sex: str = "F", **changes: Any
) -> Identity:
    """A round-two clean file's own made-up patient at Quenmoor; IDs derived from `index`."""
    person = _at(
        _QUENMOOR,
        family=family,
        given=given,
        sex=sex,
        patient_id=f"QD{8100000 + index * 613:07d}",
        birth_date=f"19{38 + index * 7 % 60:02d}{1 + index * 5 % 12:02d}{2 + index * 13 % 27:02d}",
        nhs_number=fake_nhs_number(800000 + index * 71),
        address=f"{index + 4} Ropemakers Walk^Quenmoor^TV7{index % 10} {index % 9}EW",
        telephone=f"01632 960{100 + index * 7:03d}",
        accession=f"QDA21C{10000 + index * 211:05d}",
        study_date=f"2020{6 + index % 4:02d}{3 + index % 25:02d}",
    )
    return replace(person, **changes)


def _identity_voi_lut(ds: Dataset) -> None:
    """A linear 12-bit VOI LUT: its ramp, read as UTF-16, spells 0123456789 (an NHS-valid
    shape) and runs of letters; binary, and no identifier."""
    lut = Dataset()
    lut.add_new(0x00283002, "US", [4096, 0, 12])
    lut.LUTExplanation = "LINEAR"
    lut.add_new(0x00283006, "OW", struct.pack("<4096H", *range(4096)))
    ds.VOILUTSequence = _items(lut)
    del ds.WindowCenter
    del ds.WindowWidth


def _site_code_in_codes(ds: Dataset) -> None:
    """The submitting trust's own ODS code (the site code, sent as ClinicalTrialSiteID)."""
    ds.InstitutionCodeSequence = _items(_code(SITE, "ODS", "St Nowhere General Hospital"))
    ds.ProcedureCodeSequence = _items(_code(f"{SITE}-CTCH", "99LOCAL", f"{SITE} CT CHEST"))


def _contribution_at_depth(ds: Dataset) -> None:
    """A converting PACS recorded with a DT at depth and a neutral description."""
    equipment = Dataset()
    equipment.PurposeOfReferenceCodeSequence = _items(_code("109103", "DCM", "Modifying Equipment"))
    equipment.Manufacturer = "Lodestar Imaging"
    equipment.SoftwareVersions = "LSI 4.2"
    equipment.ContributionDateTime = f"{ds.StudyDate}111500"
    equipment.ContributionDescription = "DICOM conversion"
    ds.ContributingEquipmentSequence = _items(equipment)


def _standard_codes(ds: Dataset) -> None:
    ds.ProcedureCodeSequence = _items(_code("24627-2", "LN", "CT Chest"))
    ds.RequestedProcedureCodeSequence = _items(
        _code("RPID16", "RADLEX", "CT Chest wo IV Contrast"),
    )
    ds.AnatomicRegionSequence = _items(_code("RID1243", "RADLEX", "Thorax"))


def _round_two_cleans() -> list[_Clean]:
    ct, canon, philips, cr, dx, mr = (
        SIEMENS_CT,
        CANON_CT,
        PHILIPS_CT,
        PHILIPS_CR,
        CANON_DX,
        SIEMENS_MR,
    )
    aged = _round_two_person(5, "WETHERALL", "CONSTANTINE", "M")
    return [
        _Clean(
            "clean-technical-canon-fc13-kernel-in-descriptions",
            _round_two_person(1, "MOSSOP", "VERITY"),
            canon,
            _set(
                ConvolutionKernel="FC13",
                SeriesDescription="LUNG 1.0 FC13 AIDR 3D STD",
                ProtocolName="CHEST FC13 0.5x80",
            ),
        ),
        _Clean(
            "clean-technical-siemens-kernel-with-strength",
            _round_two_person(2, "CHALLENOR", "ANSELM", "M"),
            ct,
            _set(
                ConvolutionKernel=["Br40d", "3"],
                SeriesDescription="Thorax 1.0 Br40 d 3",
                ProtocolName="ThoraxRoutine 1.0 Br40 3",
            ),
        ),
        _Clean(
            "clean-technical-voxel-and-exposure-text",
            _round_two_person(3, "GOSLING", "PETRONELLA"),
            ct,
            _set(
                StudyDescription="CT CHEST 120 kV 250 mAs",
                SeriesDescription="MPR COR 1.0 x 1.0 mm",
                DerivationDescription="MPR 1.0 x 1.0 mm 512 x 512 FOV 350 mm",
            ),
        ),
        _Clean(  # a judgement: the birth year alone is no date of birth
            "clean-date-birth-year-in-software-version",
            _round_two_person(4, "HAZELDINE", "RUFUS", "M", birth_date="19610809"),
            ct,
            _set(
                SoftwareVersions=["syngo CT VA48A", "V2.3.15.1961"],
                DerivationDescription="processed with V2.3.15.1961",
            ),
        ),
        _Clean(
            "clean-text-age-in-study-description",
            aged,
            ct,
            _set(StudyDescription=f"CT CHEST {int(aged.age[:3])}Y M ?COVID"),
        ),
        _Clean(
            "clean-date-calibration-in-detector-description",
            _round_two_person(6, "BRIMBLECOMBE", "LAVINIA"),
            dx,
            _set(DetectorDescription="CXDI-710C calibrated 12/03/2019"),
        ),
        _Clean(
            "clean-technical-mr-slice-text-shaped-like-postcodes",
            _round_two_person(7, "OUSELEY", "THADDEUS", "M"),
            mr,
            _set(
                SeriesDescription="AX T2 3MM BH",
                ProtocolName="COR T1 5MM",
                ReceiveCoilName="HE1-4;NE1,2",
            ),
        ),
        _Clean(
            "clean-technical-software-version-shaped-like-phone",
            _round_two_person(8, "CARTWRIGHT", "HYACINTH"),
            dx,
            _set(SoftwareVersions=["CXDI Control Software NE 2.14", "02.07.0013.011"]),
        ),
        _Clean(
            "clean-binary-identity-voi-lut-ramp",
            _round_two_person(9, "STAINTHORPE", "GWENDOLEN"),
            cr,
            _identity_voi_lut,
        ),
        _Clean(
            "clean-name-body-equals-transmit-coil",
            _round_two_person(10, "BODY", "TAMARA"),
            mr,
            _set(SeriesDescription="t2_haste_tra Body"),
            not_planted=("BODY",),
        ),
        _Clean(
            "clean-name-sharp-equals-kernel",
            _round_two_person(11, "SHARP", "LEONIE"),
            philips,
            _set(ConvolutionKernel="SHARP", SeriesDescription="LUNG 1.0 SHARP"),
            not_planted=("SHARP",),
        ),
        _Clean(
            "clean-name-particle-bin-with-detector-binning",
            _round_two_person(12, "BIN SALEH", "OMAR", "M"),
            dx,
            _set(
                SeriesDescription="PA BIN 2X2",
                AcquisitionDeviceProcessingDescription="CHEST PA BIN 2X2",
            ),
        ),
        _Clean(
            "clean-institution-initials-equal-modality-word-mri",
            _round_two_person(13, "PELLEW", "OSRIC", "M", institution="Marlow Road Infirmary"),
            mr,
            _set(StudyDescription="MRI THORAX", SeriesDescription="MRI t2_haste_tra"),
        ),
        _Clean(  # a judgement: the trust's own site code is sent anyway (ClinicalTrialSiteID)
            "clean-institution-site-code-in-procedure-code",
            _person(60, "QUARRINGTON", "BEATRIX"),
            ct,
            _site_code_in_codes,
        ),
        _Clean(  # a judgement: HEAD is the patient's surname here, so it must go from text too
            "clean-name-head-surname-with-patient-position-text",
            _round_two_person(14, "HEAD", "WINSTON", "M"),
            ct,
            _set(SeriesDescription="TOPOGRAM HEAD FIRST SUPINE"),
        ),
        _Clean(
            "clean-date-contribution-datetime-at-depth",
            _round_two_person(15, "VARLEY", "HERMIONE"),
            ct,
            _contribution_at_depth,
        ),
        _Clean(
            "clean-code-loinc-and-radlex-codes",
            _round_two_person(16, "TOLLEMACHE", "ERASMUS", "M"),
            ct,
            _standard_codes,
        ),
        _Clean(
            "clean-text-covid-codes-and-day-counts",
            _round_two_person(17, "YARDLEY", "MARGERY"),
            ct,
            _set(
                StudyDescription="CT CHEST ?COVID-19 U07.1",
                AdmittingDiagnosesDescription=["COVID-19 U07.1", "SOB 2/7 SpO2 92%"],
            ),
        ),
        _Clean(
            "clean-name-two-letter-parts-as-words",
            _round_two_person(18, "LI", "NA"),
            dx,
            _set(DetectorDescription="GRID: NA", SeriesDescription="PA LI-ION DETECTOR"),
        ),
        _Clean(
            "clean-date-study-year-in-protocol-name",
            _round_two_person(19, "KILLIGREW", "OCTAVIUS", "M"),
            ct,
            _set(
                StudyDescription="CT CHEST COVID PROTOCOL 2020 V3",
                ProtocolName="COVID_2020_LDCT",
            ),
        ),
    ]


def red_team_round_two() -> list[CorpusFile]:
    """The second red-team round: leaks and clean bait in classes the corpus did not have."""
    files = [_build_leak(leak) for leak in _round_two_leaks()]
    files += [_build_clean(clean) for clean in _round_two_cleans()]
    # A hangul syllable is one letter, though NFKD makes it two or three jamo: the header's
    # one- and two-syllable name parts (김, 민준) are never sought alone, so not planted alone.
    return [replace(item, planted=tuple(s for s in item.planted if len(s) >= 3)) for item in files]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
