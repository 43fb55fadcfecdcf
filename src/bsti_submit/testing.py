"""Synthetic DICOM with fake identifiers planted wherever real ones hide.

Used by the bundled sample study, the tests and the benchmarks. No real patient data: every name,
number and date here is made up, and the NHS numbers are in the 999 test range.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MediaStorageDirectoryStorage,
    generate_uid,
)

from .deid.identifiers import nhs_check_digit


def fake_nhs_number(seed: int) -> str:
    """A valid-looking NHS number in the 999 test range."""
    stem = seed
    while True:
        first_nine = f"999{stem % 1_000_000:06d}"
        check = nhs_check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)
        stem += 1


@dataclass(frozen=True)
class FakePatient:
    """Everything identifying about one made-up patient."""

    name: str = "MÜLLER^ZOË^ANNE^DR^=ミュラー^ゾーイ"
    patient_id: str = "RX1234567"
    nhs_number: str = fake_nhs_number(12345)
    birth_date: str = "19610415"
    address: str = "12 Imaginary Lane, Testville TV1 2XY"
    telephone: str = "01632 960123"
    accession: str = "ACC99887766"
    institution: str = "St Nowhere General Hospital"
    station: str = "CTSTATION07"
    serial: str = "SN-55501"
    study_date: str = "20200324"

    @property
    def name_parts(self) -> list[str]:
        """Each name component of two letters or more, as a residual check searches for."""
        alphabetic = self.name.split("=")[0]
        return [part for part in alphabetic.split("^") if len(part) >= 2]


def _uid(*parts: object) -> UID:
    return generate_uid(entropy_srcs=[str(part) for part in parts])


def _item(**attributes: object) -> Dataset:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def make_instance(
    patient: FakePatient,
    study: int = 0,
    series: int = 0,
    instance: int = 0,
    modality: str = "CT",
    rows: int = 16,
    columns: int = 16,
) -> Dataset:
    """One image instance with fake identifiers at the top level, three sequences deep, in
    references, private blocks (with and without a creator), overlays, curves and free text."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = CTImageStorage if modality == "CT" else ComputedRadiographyImageStorage
    ds.SOPInstanceUID = _uid(patient.patient_id, study, series, instance)
    ds.StudyInstanceUID = _uid(patient.patient_id, study)
    ds.SeriesInstanceUID = _uid(patient.patient_id, study, series)
    ds.FrameOfReferenceUID = _uid(patient.patient_id, study, "frame")
    ds.Modality = modality
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = patient.study_date
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "101530.25"
    ds.AcquisitionDateTime = patient.study_date + "101530"
    ds.InstanceCreationDate = patient.study_date
    ds.AccessionNumber = patient.accession
    ds.StudyID = "S" + patient.accession[-5:]
    ds.SeriesNumber = series + 1
    ds.InstanceNumber = instance + 1
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.IssuerOfPatientID = "RX HOSPITAL NUMBERS"
    ds.OtherPatientIDsSequence = Sequence(
        [_item(PatientID=patient.nhs_number, IssuerOfPatientID="NHS", TypeOfPatientID="TEXT")]
    )
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = "F"
    ds.PatientAge = "058Y"
    ds.PatientAddress = patient.address
    ds.PatientTelephoneNumbers = patient.telephone
    ds.PatientComments = (
        f"NHS no. {patient.nhs_number[:3]} {patient.nhs_number[3:6]} {patient.nhs_number[6:]}"
    )
    ds.ReferringPhysicianName = "WHO^JOHN^^DR"
    ds.PerformingPhysicianName = "JEKYLL^HENRY"
    ds.OperatorsName = ["RADIOGRAPHER^RITA", "STUDENT^SAM"]
    ds.InstitutionName = patient.institution
    ds.InstitutionAddress = "1 Hospital Road, Testville"
    ds.InstitutionalDepartmentName = "Radiology Department B"
    ds.StationName = patient.station
    ds.Manufacturer = "ACME MEDICAL"
    ds.ManufacturerModelName = "Imaginex 64"
    ds.DeviceSerialNumber = patient.serial
    ds.StudyDescription = f"CT CHEST {patient.name_parts[0]} COVID"
    ds.SeriesDescription = "AXIAL 1.25mm"
    ds.ImageComments = f"for {patient.name_parts[0]}, NHS {patient.nhs_number}"
    ds.ReferencedImageSequence = Sequence(
        [
            _item(
                ReferencedSOPClassUID=ds.SOPClassUID,
                ReferencedSOPInstanceUID=_uid(patient.patient_id, study, series, instance + 1),
            )
        ]
    )
    ds.SourceImageSequence = Sequence(
        [_item(ReferencedSOPClassUID=ds.SOPClassUID, ReferencedSOPInstanceUID=ds.SOPInstanceUID)]
    )
    deepest = _item(
        CodeValue="113100",
        CodingSchemeDesignator="DCM",
        CodeMeaning="fake",
        PersonName=patient.name,
        InstitutionName=patient.institution,
        ContentDate=patient.study_date,
        ReferencedSOPInstanceUID=ds.SOPInstanceUID,
    )
    middle = _item(
        CodeValue="1",
        CodingSchemeDesignator="99X",
        CodeMeaning="x",
        PurposeOfReferenceCodeSequence=Sequence([deepest]),
    )
    ds.DerivationCodeSequence = Sequence(
        [
            _item(
                CodeValue="2",
                CodingSchemeDesignator="99X",
                CodeMeaning="y",
                ConceptNameCodeSequence=Sequence([middle]),
            )
        ]
    )
    ds.OriginalAttributesSequence = Sequence([_item(PatientName="OLDNAME^OLIVE")])
    ds.IconImageSequence = Sequence(
        [_item(Rows=1, Columns=1, BitsAllocated=16, PixelData=b"\x00\x00")]
    )
    ds.DigitalSignaturesSequence = Sequence([_item(MACIDNumber=1)])
    _plant_private(ds, patient)
    _plant_overlay_and_curve(ds)
    _add_pixels(ds, rows, columns)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.SourceApplicationEntityTitle = "RXPACS01"
    return ds


def _plant_private(ds: Dataset, patient: FakePatient) -> None:
    block = ds.private_block(0x0029, "FAKE SCANNER 1.0", create=True)
    block.add_new(0x10, "LO", patient.name)
    block.add_new(0x11, "OB", b"CSA" + patient.patient_id.encode())
    ds.add_new(0x00311020, "LO", patient.patient_id)  # a private element without a creator


def _plant_overlay_and_curve(ds: Dataset) -> None:
    ds.add_new(0x60000010, "US", 8)
    ds.add_new(0x60000011, "US", 8)
    ds.add_new(0x60000022, "LO", "overlay of a name")
    ds.add_new(0x60003000, "OW", b"\xff" * 8)
    ds.add_new(0x50000005, "US", 2)
    ds.add_new(0x50003000, "OW", b"\x01\x00" * 4)


def _add_pixels(ds: Dataset, rows: int, columns: int) -> None:
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = bytes((index * 7) % 256 for index in range(rows * columns * 2))


def _chest_slice(rows: int, columns: int, seed: int) -> bytes:
    """A chest CT slice's stored values (HU + 1024): air, a body with two lungs, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:rows, :columns] / np.array([rows, columns])[:, None, None]
    hu = np.full((rows, columns), -1000.0)
    hu[((x - 0.5) / 0.4) ** 2 + ((y - 0.52) / 0.3) ** 2 < 1] = 40
    for centre in (0.35, 0.65):
        hu[((x - centre) / 0.12) ** 2 + ((y - 0.5) / 0.18) ** 2 < 1] = -850
    hu += rng.normal(0, 15, hu.shape)
    return bytes(np.clip(hu + 1024, 0, 4095).astype("<u2").tobytes())


def write_sample_study(folder: Path) -> list[Path]:
    """The bundled sample: one CT series of 3 and one CR of 1 for one fake patient, with the
    export clutter a PACS leaves (a DICOMDIR and a text file)."""
    patient = FakePatient()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for series, modality, count in ((0, "CT", 3), (1, "CR", 1)):
        for instance in range(count):
            path = folder / "MULLER_ZOE" / f"SER{series:03d}" / f"IM{instance:05d}"
            path.parent.mkdir(parents=True, exist_ok=True)
            make_instance(patient, 0, series, instance, modality).save_as(
                path, enforce_file_format=True
            )
            written.append(path)
    (folder / "README.TXT").write_text("Exported by RXPACS for MÜLLER ZOË\n", encoding="utf-8")
    write_dicomdir(folder / "DICOMDIR", patient)
    return written


def write_dicomdir(path: Path, patient: FakePatient) -> None:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.FileSetID = "EXPORT"
    ds.DirectoryRecordSequence = Sequence(
        [
            _item(
                DirectoryRecordType="PATIENT",
                PatientName=patient.name,
                PatientID=patient.patient_id,
            )
        ]
    )
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = MediaStorageDirectoryStorage
    ds.file_meta.MediaStorageSOPInstanceUID = _uid("dicomdir")
    ds.save_as(path, enforce_file_format=True)


# The acquisition attributes of a typical axial chest CT slice, which a profile keeps.
_CT_TECHNIQUE = {
    "Manufacturer": "ACME MEDICAL",
    "ManufacturerModelName": "Imaginex 64",
    "SoftwareVersions": "IMX 4.2.1",
    "BodyPartExamined": "CHEST",
    "ScanOptions": "HELICAL MODE",
    "SliceThickness": "1.25",
    "KVP": "120",
    "DataCollectionDiameter": "500",
    "ReconstructionDiameter": "360",
    "DistanceSourceToDetector": "946.7",
    "DistanceSourceToPatient": "538.5",
    "GantryDetectorTilt": "0",
    "TableHeight": "155.5",
    "RotationDirection": "CW",
    "ExposureTime": "500",
    "XRayTubeCurrent": 220,
    "Exposure": 110,
    "FilterType": "BODY FILTER",
    "GeneratorPower": 26400,
    "FocalSpots": "0.7",
    "ConvolutionKernel": "LUNG",
    "PatientPosition": "FFS",
    "RevolutionTime": 0.5,
    "SingleCollimationWidth": 0.625,
    "TotalCollimationWidth": 40.0,
    "SpiralPitchFactor": 0.984,
    "CTDIvol": 7.42,
    "PositionReferenceIndicator": "SN",
    "ImageOrientationPatient": ["1", "0", "0", "0", "1", "0"],
    "PixelSpacing": ["0.703125", "0.703125"],
    "WindowCenter": "-600",
    "WindowWidth": "1600",
    "RescaleIntercept": "-1024",
    "RescaleSlope": "1",
    "RescaleType": "HU",
    "LossyImageCompression": "00",
}


def make_ct_slice(patient: FakePatient, index: int, rows: int = 512, columns: int = 512) -> Dataset:
    """An axial CT slice with a realistic header: the identifying attributes a scanner really
    writes, a vendor private block and the acquisition attributes that a profile keeps.
    For benchmarks, where the header should be typical rather than a catalogue of hiding places."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = _uid(patient.patient_id, "ct", index)
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = patient.study_date
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = "101530.25"
    ds.AccessionNumber = patient.accession
    ds.Modality = "CT"
    ds.InstitutionName = patient.institution
    ds.ReferringPhysicianName = "WHO^JOHN^^DR"
    ds.StationName = patient.station
    ds.StudyDescription = "CT CHEST HIGH RESOLUTION"
    ds.SeriesDescription = "AXIAL 1.25mm LUNG"
    ds.OperatorsName = "RADIOGRAPHER^RITA"
    ds.ReferencedImageSequence = Sequence(
        [_item(ReferencedSOPClassUID=CTImageStorage, ReferencedSOPInstanceUID=_uid("scout"))]
    )
    ds.PatientName = "MULLER^ZOE"
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = "F"
    ds.PatientAge = "058Y"
    ds.DeviceSerialNumber = patient.serial
    ds.ProtocolName = "CHEST HRCT"
    for keyword, value in _CT_TECHNIQUE.items():
        setattr(ds, keyword, value)
    ds.StudyInstanceUID = _uid(patient.patient_id, "ct-study")
    ds.SeriesInstanceUID = _uid(patient.patient_id, "ct-series")
    ds.StudyID = "4471"
    ds.SeriesNumber = 3
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = index + 1
    ds.ImagePositionPatient = ["-180", "-180", f"{-index * 1.25:.2f}"]
    ds.FrameOfReferenceUID = _uid(patient.patient_id, "ct-frame")
    ds.SliceLocation = f"{-index * 1.25:.2f}"
    block = ds.private_block(0x0043, "ACME_CT_PRIVATE", create=True)
    for offset, value in enumerate(("HELICAL", "2.1", patient.station, "RECON 3")):
        block.add_new(0x10 + offset, "LO", value)
    _add_pixels(ds, rows, columns)
    ds.PixelData = _chest_slice(rows, columns, index)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds
