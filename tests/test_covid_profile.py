"""The BSTI COVID-19 profile: pseudonyms that link over time, shifted dates, clean descriptors."""

from __future__ import annotations

import json
import os
import stat
from datetime import date
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from bsti_submit.config import Settings
from bsti_submit.deid.identifiers import parse_da
from bsti_submit.errors import ExitStatus
from bsti_submit.lookup import LookupTable
from bsti_submit.run import submit
from bsti_submit.testing import FakePatient, make_instance

from .helpers import planted_identifiers, run, save

SITE = "RX1"


def a_day(text: str) -> date:
    """A DA value that must be a date."""
    parsed = parse_da(text)
    assert parsed is not None, text
    return parsed


def export_of(folder: Path, *instances: Dataset) -> Path:
    for index, dataset in enumerate(instances):
        save(dataset, folder / f"file{index}")
    return folder


def cleaned(folder: Path) -> list[Dataset]:
    return [pydicom.dcmread(path) for path in sorted(folder.rglob("*.dcm"))]


def every_date(dataset: Dataset) -> list[date]:
    found = []
    for element in dataset.iterall():
        if element.VR in ("DA", "DT") and element.value:
            day = parse_da(str(element.value))
            assert day is not None, element
            found.append(day)
    return found


def test_same_patient_months_apart_links_up(tmp_path: Path, patient: FakePatient) -> None:
    """Two submissions of one patient, in two runs: one pseudonym, one study UID per study,
    the same date offset."""
    first = export_of(tmp_path / "march", make_instance(patient, study=0))
    second = export_of(
        tmp_path / "june", make_instance(patient, study=0, instance=1), make_instance(patient, 1)
    )
    settings = Settings(site=SITE)
    submit(first, tmp_path / "out1", settings)
    submit(second, tmp_path / "out2", settings)
    march, (june_same_study, june_other_study) = (
        cleaned(tmp_path / "out1"),
        sorted(
            cleaned(tmp_path / "out2"),
            key=lambda ds: ds.StudyInstanceUID != cleaned(tmp_path / "out1")[0].StudyInstanceUID,
        ),
    )
    pseudonyms = {ds.PatientID for ds in (*march, june_same_study, june_other_study)}
    assert len(pseudonyms) == 1
    pseudonym = pseudonyms.pop()
    assert pseudonym.startswith(f"{SITE}-") and len(pseudonym) <= 64
    assert march[0].PatientName == pseudonym and march[0].ClinicalTrialSubjectID == pseudonym
    assert june_same_study.StudyInstanceUID == march[0].StudyInstanceUID
    assert june_other_study.StudyInstanceUID != march[0].StudyInstanceUID
    offset = (a_day(march[0].StudyDate) - a_day(patient.study_date)).days
    assert -730 <= offset <= -1
    assert (a_day(june_same_study.StudyDate) - a_day(patient.study_date)).days == offset


def test_two_patients_get_different_offsets_and_pseudonyms(
    tmp_path: Path, patient: FakePatient, second_patient: FakePatient
) -> None:
    same_day = FakePatient(patient_id="RX7777777", study_date=patient.study_date)
    export = export_of(tmp_path / "in", make_instance(patient), make_instance(same_day))
    submit(export, tmp_path / "out", Settings(site=SITE))
    first, second = cleaned(tmp_path / "out")
    assert first.PatientID != second.PatientID
    assert first.StudyDate != second.StudyDate


def test_another_key_changes_every_pseudonym(
    tmp_path: Path, patient: FakePatient, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = export_of(tmp_path / "in", make_instance(patient))
    submit(export, tmp_path / "a", Settings(site=SITE))
    monkeypatch.setenv("BSTI_SUBMIT_KEY_FILE", str(tmp_path / "other.key"))
    submit(export, tmp_path / "b", Settings.load(site=SITE))
    (a,), (b,) = cleaned(tmp_path / "a"), cleaned(tmp_path / "b")
    assert a.PatientID != b.PatientID
    assert a.StudyInstanceUID != b.StudyInstanceUID
    assert a.SOPInstanceUID != b.SOPInstanceUID


def test_intervals_between_dates_survive_to_the_day(tmp_path: Path, patient: FakePatient) -> None:
    """Every date of one patient, at every depth and in two studies, moves by the same days."""
    later = FakePatient(study_date="20200611")
    export = export_of(tmp_path / "in", make_instance(patient, 0), make_instance(later, 1))
    originals = [day for dataset in cleaned_sources(export) for day in every_date(dataset)]
    submit(export, tmp_path / "out", Settings(site=SITE))
    shifted = [day for dataset in cleaned(tmp_path / "out") for day in every_date(dataset)]
    assert len(shifted) == len(originals) - 2  # the two birth dates are emptied
    kept = sorted(day for day in originals if day != parse_da(patient.birth_date))
    offset = min(shifted) - kept[0]
    assert offset.days < 0
    assert sorted(shifted) == [day + offset for day in kept]


def cleaned_sources(folder: Path) -> list[Dataset]:
    return [pydicom.dcmread(path) for path in sorted(folder.iterdir())]


def test_times_are_kept_and_dates_marked_modified(tmp_path: Path, patient: FakePatient) -> None:
    export = export_of(tmp_path / "in", make_instance(patient))
    submit(export, tmp_path / "out", Settings(site=SITE))
    (dataset,) = cleaned(tmp_path / "out")
    assert dataset.StudyTime == "101530.25"
    assert dataset.AcquisitionDateTime.endswith("101530")
    assert dataset.LongitudinalTemporalInformationModified == "MODIFIED"
    assert dataset.PatientBirthDate == ""


def test_age_is_computed_before_the_birth_date_goes(tmp_path: Path, patient: FakePatient) -> None:
    without_age = make_instance(patient)
    del without_age.PatientAge
    export = export_of(tmp_path / "in", without_age)
    submit(export, tmp_path / "out", Settings(site=SITE))
    (dataset,) = cleaned(tmp_path / "out")
    assert dataset.PatientAge == "058Y"  # born 1961-04-15, scanned 2020-03-24
    assert dataset.PatientSex == "F"


def test_descriptions_come_out_clean_and_readable(tmp_path: Path, patient: FakePatient) -> None:
    dataset = make_instance(patient)
    dataset.StudyDescription = f"CT CHEST {patient.accession} Zoë MÜLLER 24/03/2020"
    nhs = patient.nhs_number
    dataset.SeriesDescription = f"AXIAL LUNG nhs {nhs[:3]}-{nhs[3:6]}-{nhs[6:]}"
    dataset.ProtocolName = f"COVID HRCT for {patient.patient_id} {patient.study_date}"
    text = "Ground glass, lower lobes. 1234567890 is not an NHS number"
    dataset.PerformedProcedureStepDescription = text
    dataset.ImageComments = f"{text}: comments are removed whole"
    export = export_of(tmp_path / "in", dataset)
    submit(export, tmp_path / "out", Settings(site=SITE))
    (out,) = cleaned(tmp_path / "out")
    assert out.StudyDescription == "CT CHEST"
    assert out.SeriesDescription == "AXIAL LUNG nhs"
    assert out.ProtocolName == "COVID HRCT for"
    assert out.PerformedProcedureStepDescription == text
    assert "ImageComments" not in out


def test_a_file_without_patient_id_gets_no_pseudonym(tmp_path: Path, patient: FakePatient) -> None:
    anonymous = make_instance(patient)
    del anonymous.PatientID
    export = export_of(tmp_path / "in", anonymous, make_instance(patient, instance=1))
    summary = submit(export, tmp_path / "out", Settings(site=SITE))
    assert summary.written == 1
    assert [entry.reason for entry in summary.skipped] == [
        "no Patient ID, so no pseudonym can be given"
    ]
    assert summary.failed == [] and summary.exit_status == 0  # skipped, as the README says


def test_the_default_profile_needs_a_site(tmp_path: Path, export: Path) -> None:
    result = run("submit", str(export), "--to", str(tmp_path / "out"))
    assert result.exit_code == ExitStatus.CONFIG
    assert "no site code" in result.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.dcm"))


def test_lookup_maps_back_and_is_private(
    tmp_path: Path, export: Path, patient: FakePatient, isolated_folders: Path
) -> None:
    result = run("submit", str(export), "--to", str(tmp_path / "out"), "--site", SITE)
    assert result.exit_code == ExitStatus.INPUT_ERRORS  # the truncated file
    pseudonym = next(ds.PatientID for ds in cleaned(tmp_path / "out") if ds.Modality == "CT")
    found = run("lookup", pseudonym)
    assert found.exit_code == ExitStatus.SUCCESS
    assert patient.patient_id in found.output and "RX HOSPITAL NUMBERS" in found.output
    reverse = run("lookup", "--patient-id", patient.patient_id)
    assert reverse.exit_code == ExitStatus.SUCCESS and pseudonym in reverse.output
    assert run("lookup", f"{SITE}-NOTAPATIENT").exit_code == ExitStatus.ERROR
    (table,) = isolated_folders.rglob("lookup.sqlite")
    assert stat.S_IMODE(table.stat().st_mode) == 0o600
    for path in (tmp_path / "out").rglob("*"):
        assert patient.patient_id.encode() not in (path.read_bytes() if path.is_file() else b"")


def test_the_lookup_table_and_its_write_ahead_log_are_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # files readable by all unless made otherwise
    try:
        table = LookupTable(tmp_path / "lookup.sqlite")
        table.record(f"{SITE}-AAAAAAAAAAAA", "RX HOSPITAL NUMBERS", "RX1234567")
        files = sorted(tmp_path.glob("lookup.sqlite*"))
        assert [path.name for path in files] == [
            "lookup.sqlite",
            "lookup.sqlite-shm",
            "lookup.sqlite-wal",
        ]
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
        table.close()
    finally:
        os.umask(old_umask)


def test_init_writes_config_and_key_and_never_replaces_the_key_silently(
    tmp_path: Path, isolated_folders: Path, export: Path
) -> None:
    first = run("init", "--site", SITE)
    assert first.exit_code == ExitStatus.SUCCESS, first.output
    (key,) = isolated_folders.rglob("pseudonym.key")
    (config,) = isolated_folders.rglob("config.toml")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert 'site = "RX1"' in config.read_text()
    original = key.read_bytes()
    second = run("init", "--site", SITE)
    assert second.exit_code == ExitStatus.CONFIG
    assert "config set KEY VALUE" in second.output
    assert key.read_bytes() == original
    config.unlink()  # a lost config: init again keeps the key
    third = run("init", "--site", SITE)
    assert (
        third.exit_code == ExitStatus.SUCCESS and "Kept the existing pseudonym key" in third.output
    )
    forced = run("init", "--site", SITE, "--force", "--profile", "ps315-basic")
    assert (
        forced.exit_code == ExitStatus.SUCCESS and 'profile = "ps315-basic"' in config.read_text()
    )
    assert key.read_bytes() == original, "--force replaced the key"
    run("init", "--site", SITE, "--force", "--profile", "bsti-covid19")
    assert original.decode().strip() not in first.output + second.output
    # the site now comes from the config
    submitted = run("submit", str(export), "--to", str(tmp_path / "out"))
    assert cleaned(tmp_path / "out")[0].PatientID.startswith("RX1-"), submitted.output


def test_init_new_key_retires_the_old_key(isolated_folders: Path) -> None:
    assert run("init", "--site", SITE).exit_code == ExitStatus.SUCCESS
    (key,) = isolated_folders.rglob("pseudonym.key")
    original = key.read_bytes()
    forced = run("init", "--site", SITE, "--force", "--new-key")
    assert forced.exit_code == ExitStatus.SUCCESS
    assert "Retired the old pseudonym key" in forced.output
    (retired,) = isolated_folders.rglob("pseudonym.key.retired-*")
    assert retired.read_bytes() == original and key.read_bytes() != original
    assert stat.S_IMODE(retired.stat().st_mode) == 0o600


def test_a_key_file_named_by_the_config_is_used(tmp_path: Path, export: Path) -> None:
    key = tmp_path / "vault" / "trust.key"
    config = tmp_path / "bsti.toml"
    config.write_text(f'site = "RX9"\nkey_file = "{key}"\n')
    result = run("--config", str(config), "submit", str(export), "--to", str(tmp_path / "out"))
    assert result.exit_code == ExitStatus.INPUT_ERRORS
    assert key.exists() and cleaned(tmp_path / "out")[0].PatientID.startswith("RX9-")


def test_a_malformed_config_names_file_and_line(tmp_path: Path, export: Path) -> None:
    config = tmp_path / "bsti.toml"
    config.write_text('site = "RX1"\nprofile = \n')
    result = run("--config", str(config), "submit", str(export), "--to", str(tmp_path / "o"))
    assert result.exit_code == ExitStatus.CONFIG
    assert str(config) in result.output and "line 2" in result.output


@pytest.mark.parametrize("site", ["rx1", "R", "RX1; rm", "TOOLONGSITECODE"])
def test_a_bad_site_code_is_refused(site: str, tmp_path: Path, export: Path) -> None:
    result = run("submit", str(export), "--to", str(tmp_path / "out"), "--site", site)
    assert (
        result.exit_code == ExitStatus.USAGE and "site code" in result.output
    )  # a bad value on the line
    config = tmp_path / "bsti.toml"
    config.write_text(f"site = {json.dumps(site)}\n")
    result = run("--config", str(config), "submit", str(export), "--to", str(tmp_path / "out"))
    assert (
        result.exit_code == ExitStatus.CONFIG
        and "site code" in result.output
        and "line 1" in result.output
    )


def test_no_planted_identifier_survives_the_covid_profile(
    tmp_path: Path, export: Path, patient: FakePatient, second_patient: FakePatient
) -> None:
    submit(export, tmp_path / "out", Settings(site=SITE))
    planted = planted_identifiers(patient) + planted_identifiers(second_patient)
    for path in (tmp_path / "out").rglob("*.dcm"):
        text = path.read_bytes().decode("utf-8", errors="replace").upper()
        for value in planted:
            assert value.upper() not in text, f"{value!r} left in {path.name}"


def test_the_default_profile_keeps_no_device_identity_and_no_risky_free_text(
    tmp_path: Path, patient: FakePatient
) -> None:
    """bsti-covid19 2026d.2, as its IG sign-off says: manufacturer and model stay; device UIDs,
    detector, plate and gantry IDs go; comments and histories go; descriptions stay, cleaned."""
    dataset = make_instance(patient)
    dataset.DeviceUID = "1.2.826.0.1.3680043.9.9999.1"
    dataset.DetectorID = "DET 0042"
    dataset.PlateID = "PLATE 7"
    dataset.GantryID = "GANTRY-B"
    dataset.AdditionalPatientHistory = "seen by Dr Jekyll last week"
    dataset.PatientComments = "lives alone"
    dataset.RequestedProcedureDescription = f"CT chest for {patient.name_parts[0]}"
    export = export_of(tmp_path / "in", dataset)
    submit(export, tmp_path / "out", Settings(site=SITE))
    (out,) = cleaned(tmp_path / "out")
    assert out.Manufacturer == "ACME MEDICAL" and out.ManufacturerModelName == "Imaginex 64"
    assert out.DeviceUID != dataset.DeviceUID and out.DeviceUID.startswith("2.25.")
    assert out.DetectorID == "ANONYMISED"
    for gone in ("PlateID", "GantryID", "AdditionalPatientHistory", "PatientComments"):
        assert gone not in out
    assert out.RequestedProcedureDescription == "CT chest for"
    codes = [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    assert "113109" not in codes and "113105" in codes


def test_a_kept_code_item_stays_valid_when_its_text_is_cleaned(
    tmp_path: Path, patient: FakePatient
) -> None:
    """The hospital's local procedure code: its text is cleaned, and every one of CodeValue,
    CodingSchemeDesignator and CodeMeaning keeps a value."""
    dataset = make_instance(patient)
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator = "SNGH", "99SNGH"
    code.CodeMeaning = "St Nowhere General Hospital"
    dataset.ProcedureCodeSequence = [code]
    export = export_of(tmp_path / "in", dataset)
    submit(export, tmp_path / "out", Settings(site=SITE))
    (out,) = cleaned(tmp_path / "out")
    (item,) = out.ProcedureCodeSequence
    assert (item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning) == (
        "ANONYMISED",
        "99LOCAL",
        "ANONYMISED",
    )


def test_config_set_and_unset_change_one_setting_and_keep_the_key(
    isolated_folders: Path,
) -> None:
    assert run("init", "--site", SITE).exit_code == ExitStatus.SUCCESS
    (key,) = isolated_folders.rglob("pseudonym.key")
    (config,) = isolated_folders.rglob("config.toml")
    original = key.read_bytes()
    changed = run("config", "set", "destination", "HTTPS://collection.example/dicom-web")
    assert changed.exit_code == ExitStatus.SUCCESS, changed.output
    assert 'destination = "https://collection.example/dicom-web"' in config.read_text()
    assert "destination = https://collection.example/dicom-web" in run("config", "show").output
    refused = run("config", "set", "retries", "-1")
    assert refused.exit_code == ExitStatus.USAGE and "must be 0 or more" in refused.output
    assert run("config", "set", "key_file", "/tmp/other.key").exit_code == ExitStatus.USAGE
    assert run("config", "unset", "destination").exit_code == ExitStatus.SUCCESS
    assert "destination" not in config.read_text() and 'site = "RX1"' in config.read_text()
    assert "was not set" in run("config", "unset", "destination").output
    assert key.read_bytes() == original


def test_new_key_alone_and_force_keep_the_other_settings(isolated_folders: Path) -> None:
    assert run("init", "--site", SITE).exit_code == ExitStatus.SUCCESS
    (config,) = isolated_folders.rglob("config.toml")
    assert run("config", "set", "retries", "2").exit_code == ExitStatus.SUCCESS
    renewed = run("init", "--site", SITE, "--new-key")
    assert (
        renewed.exit_code == ExitStatus.SUCCESS
        and "Retired the old pseudonym key" in renewed.output
    )
    forced = run("init", "--site", SITE, "--force", "--profile", "ps315-basic")
    assert forced.exit_code == ExitStatus.SUCCESS
    text = config.read_text()
    assert "retries = 2" in text and 'profile = "ps315-basic"' in text


def test_config_set_edits_the_config_file_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.toml"
    other.write_text('site = "RX1"\n')
    monkeypatch.setenv("BSTI_SUBMIT_CONFIG", str(other))
    assert run("config", "set", "retries", "7").exit_code == ExitStatus.SUCCESS
    assert "retries = 7" in other.read_text()
    assert "retries = 7    (config file" in run("config", "show").output
