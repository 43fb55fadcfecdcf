"""Keyed UIDs: repeatable, one-way, and never touching the standard's own UIDs."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bsti_submit.deid.pseudonym import Pseudonymizer, create_key, load_key
from bsti_submit.errors import KeyFileError

ORIGINAL_UIDS = st.from_regex(
    r"1\.2\.826\.0\.1\.[1-9][0-9]{0,20}(\.[1-9][0-9]{0,5}){0,4}", fullmatch=True
)


@given(ORIGINAL_UIDS)
def test_uids_are_valid_repeatable_and_keyed(original: str) -> None:
    first, second = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
    new = first.uid(original)
    assert new == Pseudonymizer(b"a" * 32).uid(original)
    assert new != second.uid(original)
    assert new.startswith("2.25.") and len(new) <= 64
    assert int(new.removeprefix("2.25.")) < 2**128
    assert original not in new


def test_distinct_uids_stay_distinct() -> None:
    mapper = Pseudonymizer(b"k" * 32)
    originals = [f"1.2.826.0.1.3680043.99.{index}" for index in range(5000)]
    assert len({mapper.uid(uid) for uid in originals}) == len(originals)


@pytest.mark.parametrize(
    "well_known",
    ["1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.50"],
)
def test_dicom_defined_uids_are_never_replaced(well_known: str) -> None:
    assert Pseudonymizer(b"k" * 32).uid(well_known) == well_known


def test_key_is_created_once_private_and_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "data" / "pseudonym.key"
    create_key(path)
    key = load_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path) == key
    with pytest.raises(KeyFileError, match="already exists"):
        create_key(path)
    assert load_key(path) == key


@pytest.mark.parametrize("content", ["zz-secret-zz", "abcd1234", "\n"])
def test_a_bad_key_file_is_refused_without_quoting_it(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.key"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError) as error:
        load_key(path)
    assert content.strip() not in str(error.value).replace(str(path), "") or not content.strip()


def test_the_key_never_shows_in_a_repr() -> None:
    assert "kkkk" not in repr(Pseudonymizer(b"k" * 32)) and "6b6b" not in repr(
        Pseudonymizer(b"k" * 32)
    )
