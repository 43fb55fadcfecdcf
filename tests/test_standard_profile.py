"""The built-in PS3.15 basic profile, checked row by row against Table E.1-1 (DICOM 2026d)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom import config as pydicom_config
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pydicom.valuerep import validate_value

from bsti_submit.deid.builtin import BUILTIN_PROFILES
from bsti_submit.deid.engine import Deidentifier
from bsti_submit.deid.profile import builtin_profiles_dir, load_profile
from bsti_submit.deid.pseudonym import Pseudonymizer
from bsti_submit.deid.standard import ProfileSpec, load_table, render_profile, resolve_compound

from .helpers import removed_beyond_table

REPO = Path(__file__).resolve().parent.parent
SHARED_TABLE = REPO.parent / "shared" / "standard" / "confidentiality_profile.csv"
KEY = bytes(range(32))

# A value valid for each VR, different from every dummy the engine writes.
PLANTED = {
    "AE": "RXPACS01",
    "AS": "058Y",
    "CS": "PLANTED",
    "DA": "20200324",
    "DS": "1.5",
    "DT": "20200324101530",
    "IS": "7",
    "LO": "Planted Long",
    "LT": "Planted text",
    "PN": "PLANTED^PERSON",
    "SH": "PLANTED",
    "ST": "Planted short text",
    "TM": "101530",
    "UC": "Planted UC",
    "UI": "1.2.826.0.1.3680043.10.99.1",
    "UR": "http://example.invalid/x",
    "UT": "Planted UT",
    "AT": 0x00100010,
    "FD": 1.5,
    "FL": 1.5,
    "SL": 3,
    "SS": 3,
    "UL": 3,
    "US": 3,
    "OB": b"PLANTED!",
    "OW": b"PLANTED!",
    "OD": b"PLANTED!",
    "OF": b"PLANT!!!",
    "OL": b"PLANTED!",
    "UN": b"PLANTED!",
    "SV": 3,
    "UV": 3,
    "OV": b"PLANTED!",
}
# Table rows that stand for groups or for every private element: one concrete tag each.
MASK_EXAMPLES = {"(50xx,xxxx)": 0x50003000, "(60xx,3000)": 0x60023000, "(60xx,4000)": 0x60004000}


def expected_action(row_tag_text: str, code: str) -> str:
    tag = 0x00291010 if row_tag_text == "(gggg,eeee)" else row_tag(row_tag_text)
    return "X" if removed_beyond_table(tag) else resolve_compound(code, row_tag_text)


def row_tag(text: str) -> int:
    return MASK_EXAMPLES.get(text) or int(text[1:5] + text[6:10], 16)


def row_vr(row_tag_value: int, name: str) -> str:
    try:
        return str(dictionary_VR(row_tag_value)).split(" or ")[0]
    except KeyError:  # newer than pydicom's dictionary, or a mask
        return "SQ" if "Sequence" in name else "LO" if row_tag_value >> 16 < 0x5000 else "OW"


def planted_element(tag: int, vr: str) -> DataElement:
    if vr == "SQ":
        item = Dataset()
        item.CodeMeaning = "planted item"
        return DataElement(tag, vr, Sequence([item]))
    return DataElement(tag, vr, PLANTED[vr])


TABLE = [
    row for row in load_table() if row.tag != "(gggg,eeee)" and not row.tag.startswith("(0002")
]


def dataset_with_every_row() -> Dataset:
    """Every attribute of the table with a planted value, at the top level and again inside an
    item of a sequence the profile does not list (so it is kept and walked)."""
    top = Dataset()
    nested = Dataset()
    for row in TABLE:
        tag = row_tag(row.tag)
        vr = row_vr(tag, row.name)
        top[tag] = planted_element(tag, vr)
        nested[tag] = planted_element(tag, vr)
    top.SOPClassUID = CTImageStorage
    top.DerivationCodeSequence = Sequence([nested])
    top.file_meta = FileMetaDataset()
    top.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return top


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """The planted dataset de-identified, written as Part 10 and read back."""
    from pydicom import dcmread

    dataset = dataset_with_every_row()
    Deidentifier(load_profile("ps315-basic"), Pseudonymizer(KEY)).apply(dataset)
    path = tmp_path_factory.mktemp("out") / "cleaned.dcm"
    dataset.save_as(path, enforce_file_format=True)
    return dcmread(path)


@pytest.mark.parametrize("spec", BUILTIN_PROFILES, ids=lambda spec: spec.name)
def test_profile_files_are_the_generated_ones(spec: ProfileSpec) -> None:
    """Regenerating each built-in profile from the table gives the shipped file, byte for byte."""
    committed = (builtin_profiles_dir() / f"{spec.name}.deid").read_text(encoding="utf-8")
    assert committed == render_profile(spec)


@pytest.mark.skipif(not SHARED_TABLE.exists(), reason="no ../shared/standard beside the clone")
def test_packaged_table_is_the_shared_2026d_table() -> None:
    packaged = REPO / "src" / "bsti_submit" / "data" / "confidentiality_profile.csv"
    assert packaged.read_bytes() == SHARED_TABLE.read_bytes()


def test_table_has_every_2026d_row() -> None:
    rows = load_table()
    assert len(rows) == 657
    assert len({row.tag for row in rows}) == 657
    # 26 tags newer than pydicom's dictionary, the curve mask and the private row
    assert sum(1 for row in rows if not row.keyword) == 28


def test_every_row_has_a_rule_with_the_policy_action() -> None:
    """Each row's tag resolves to the action of its (compound) code, keyword or not."""
    profile = load_profile("ps315-basic")
    engine_action = {"X": "REMOVE", "Z": "BLANK", "D": "DUMMY", "U": "UID", "U*": "KEEP"}
    for row in load_table():
        tag = 0x00291010 if row.tag == "(gggg,eeee)" else row_tag(row.tag)
        rule = profile.rule_for(tag)
        assert rule is not None, row.tag
        assert rule.action == engine_action[expected_action(row.tag, row.basic)], row.tag


@pytest.mark.parametrize("depth", ["top", "nested"])
def test_each_action_is_applied_at_every_depth(cleaned: Dataset, depth: str) -> None:
    target = cleaned if depth == "top" else cleaned.DerivationCodeSequence[0]
    for row in TABLE:
        tag = row_tag(row.tag)
        action = expected_action(row.tag, row.basic)
        if action == "X":
            assert tag not in target, f"{row.tag} {row.name} should be removed"
        elif action == "Z":
            assert tag in target and target[tag].is_empty, f"{row.tag} should be empty"
        elif action == "D":
            assert_dummy(target[tag], row.tag)
        elif action == "U":
            value = str(target[tag].value)
            assert value.startswith("2.25.") and len(value) <= 64, row.tag
        elif action == "U*":
            assert target[tag].VR == "SQ" and len(target[tag].value) == 1, row.tag


def assert_dummy(element: DataElement, where: str) -> None:
    assert not element.is_empty, f"{where} must have a non-empty dummy"
    if element.VR == "SQ":
        assert len(element.value) == 1 and len(element.value[0]) == 0, where
        return
    assert element.value != PLANTED.get(element.VR), f"{where} still holds the planted value"
    if element.VR == "UI":
        assert str(element.value).startswith("2.25."), where
    else:
        validate_value(element.VR, element.value, pydicom_config.RAISE)


def test_nothing_private_or_grouped_is_left(cleaned: Dataset) -> None:
    def tags(dataset: Dataset) -> list[int]:
        found = []
        for element in dataset:
            found.append(int(element.tag))
            if element.VR == "SQ":
                for item in element.value:
                    found += tags(item)
        return found

    every = tags(cleaned)
    assert not [tag for tag in every if (tag >> 16) % 2 == 1]
    assert not [tag for tag in every if (tag >> 16) & 0xFF00 in (0x5000, 0x6000)]
    assert not [tag for tag in every if tag & 0xFFFF == 0]


UNLISTED = {"SliceThickness": "1.25", "KVP": "120", "PixelSpacing": ["0.7", "0.7"], "Rows": 16}


def test_attributes_the_table_does_not_list_are_kept_unchanged(tmp_path: Path) -> None:
    listed = {row_tag(row.tag) for row in TABLE}
    dataset = dataset_with_every_row()
    for keyword, value in UNLISTED.items():
        setattr(dataset, keyword, value)
        setattr(dataset.DerivationCodeSequence[0], keyword, value)
        assert dataset[keyword].tag not in listed
    Deidentifier(load_profile("ps315-basic"), Pseudonymizer(KEY)).apply(dataset)
    for target in (dataset, dataset.DerivationCodeSequence[0]):
        for keyword, value in UNLISTED.items():
            assert target[keyword].value == value
