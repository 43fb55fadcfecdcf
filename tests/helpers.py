"""Small helpers shared by the tests."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from click.testing import CliRunner, Result
from pydicom.dataset import Dataset

from bsti_submit.cli import main
from bsti_submit.testing import FakePatient

if TYPE_CHECKING:
    from .servers import DicomWebServer


SITE = "RX1"


def run(*args: str) -> Result:
    """`bsti-submit ARGS` in this process; an exception the CLI does not handle fails the test."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def send(source: Path, server: DicomWebServer, *options: str) -> Result:
    """`bsti-submit submit SOURCE --to` the test endpoint, trusting its CA."""
    return run(*stow_args(source, server), *options)


def submit_to_folder(source: Path, out: Path, *options: str) -> Result:
    """`bsti-submit submit SOURCE --to OUT --site RX1 [OPTIONS]`."""
    return run("submit", str(source), "--to", str(out), "--site", SITE, *options)


def submit_one(tmp_path: Path, dataset: Dataset, *options: str) -> Result:
    """Submit one instance from a neutrally named folder (so paths on screen hold no name) to
    `tmp_path / "out"`."""
    source = save(dataset, tmp_path / "in" / "image1").parent
    return submit_to_folder(source, tmp_path / "out", *options)


def site_profile(
    tmp_path: Path,
    *lines: str,
    base: str = "ps315-basic",
    name: str = "leaky-site",
    version: int = 1,
) -> Path:
    """A site profile extending `base` with these `%header` lines."""
    path = tmp_path / f"{name}.deid"
    header = ["FORMAT dicom", f"#@ name: {name}", f"#@ version: {version}", f"#@ extends: {base}"]
    path.write_text("\n".join([*header, "%header", *lines]) + "\n", encoding="utf-8")
    return path


def save(dataset: Dataset, path: Path) -> Path:
    """Write a dataset as a Part 10 file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path, enforce_file_format=True)
    return path


def removed_beyond_table(tag: int) -> bool:
    """Whole groups the built-in profiles remove on top of Table E.1-1: command, curve and
    overlay groups, and group lengths."""
    group = tag >> 16
    return group == 0 or tag & 0xFFFF == 0 or group & 0xFF00 in (0x5000, 0x6000)


def table_tag(text: str) -> int | None:
    """The tag of a Table E.1-1 row, or None for a mask or the private row."""
    return None if "x" in text or text == "(gggg,eeee)" else int(text[1:5] + text[6:10], 16)


def planted_identifiers(patient: FakePatient) -> list[str]:
    """Every identifying string planted for a patient, as it could appear in output bytes."""
    return [
        *[part for part in patient.name_parts if len(part) >= 3],
        "ミュラー",
        patient.patient_id,
        patient.nhs_number,
        patient.nhs_number[:3] + " " + patient.nhs_number[3:6],
        "Imaginary Lane",
        patient.telephone,
        patient.accession,
        patient.institution,
        "Hospital Road",
        "Radiology Department",
        patient.station,
        patient.serial,
        patient.birth_date,
        patient.study_date,
        "RADIOGRAPHER",
        "JEKYLL",
        "RXPACS01",
        "RX HOSPITAL",
        "FAKE SCANNER",
        "OLDNAME",
        "overlay of a name",
    ]


def found_in(data: bytes, values: Iterable[str]) -> list[str]:
    """The values that stand as whole words in bytes read as Latin-1 or UTF-8 text."""
    texts = [data.decode("latin-1").upper(), data.decode("utf-8", "replace").upper()]
    return [
        value
        for value in values
        if any(re.search(rf"(?<![A-Z0-9]){re.escape(value.upper())}(?![A-Z0-9])", t) for t in texts)
    ]


def cli_command(*args: str) -> list[str]:
    """The bsti-submit command line, to run in a child process."""
    return [sys.executable, "-c", "from bsti_submit.cli import main; main()", *args]


def stow_args(source: Path, server: DicomWebServer, site: str = "RX1") -> list[str]:
    """`submit` arguments that send SOURCE to the test server, trusting its CA."""
    return [
        "submit",
        str(source),
        "--to",
        server.url,
        "--site",
        site,
        "--ca-bundle",
        str(server.ca_file),
    ]
