"""Shared fixtures: isolated platformdirs folders and synthetic PACS exports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from bsti_submit.testing import FakePatient, make_instance, write_dicomdir

from .helpers import save
from .platform_standins import MemoryKeyring

SECOND_PATIENT = FakePatient(
    name="O'NEILL^SEÁN",
    patient_id="RX7654321",
    birth_date="19480102",
    accession="ACC11223344",
    study_date="20200401",
)


@pytest.fixture(autouse=True)
def isolated_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own config, data, state and log folders, and no stray settings."""
    home = tmp_path / "home"
    for variable in (
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
        "XDG_CACHE_HOME",
        "XDG_CONFIG_DIRS",
    ):
        monkeypatch.setenv(variable, str(home / variable.lower()))
    for variable in [name for name in os.environ if name.startswith("BSTI_SUBMIT_")]:
        monkeypatch.delenv(variable, raising=False)
    # One process per run keeps the suite fast; test_workers.py runs several.
    monkeypatch.setenv("BSTI_SUBMIT_WORKERS", "1")
    # No test reads or writes the keyring of the machine it runs on: in this process an empty
    # one of its own; in a process it starts, none at all.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    return home


@pytest.fixture(autouse=True)
def os_keyring() -> Iterator[MemoryKeyring]:
    """The OS keyring, as this process sees it."""
    previous = keyring.get_keyring()
    standin = MemoryKeyring()
    keyring.set_keyring(standin)
    yield standin
    keyring.set_keyring(previous)


@pytest.fixture
def patient() -> FakePatient:
    return FakePatient()


@pytest.fixture
def second_patient() -> FakePatient:
    return SECOND_PATIENT


@pytest.fixture
def export(tmp_path: Path, patient: FakePatient) -> Path:
    """A PACS export: two studies of two patients in extensionless files under names that
    themselves identify, with a DICOMDIR, a text file and a truncated file mixed in."""
    root = tmp_path / "export"
    for series in range(2):
        for instance in range(2):
            save(
                make_instance(patient, 0, series, instance),
                root / "MULLER_ZOE_RX1234567" / f"S{series}" / f"I{instance}",
            )
    save(make_instance(SECOND_PATIENT, 0, 0, 0, "CR"), root / "ONEILL" / "IM0001")
    (root / "notes.txt").write_text("Export for MÜLLER ZOË RX1234567\n", encoding="utf-8")
    write_dicomdir(root / "DICOMDIR", patient)
    whole = (root / "MULLER_ZOE_RX1234567" / "S0" / "I0").read_bytes()
    (root / "MULLER_ZOE_RX1234567" / "S0" / "BROKEN").write_bytes(whole[: len(whole) - 100])
    return root
