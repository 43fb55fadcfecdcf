"""The identifier finder as a reviewer reads text: what it removes and what it leaves alone."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bsti_submit.deid.finder import Finder
from bsti_submit.deid.identifiers import collect
from bsti_submit.testing import FakePatient, make_instance

PATIENT = FakePatient()
FINDER = Finder(collect(make_instance(PATIENT)), local_id=re.compile(r"RX\d{7}"))

CLEANED = {
    "CT CHEST MULLER COVID": "CT CHEST COVID",
    "Muller, Zoe: chest": "chest",
    "zoë müller": "",
    "MUELLER": "",
    "MULLER_ZOE_LUNG": "LUNG",
    "ZM 15/04/1961 CXR": "CXR",
    "Z.A.M. 15.04.61": "",
    "dob 15.04.61": "dob",
    "born 15 April 1961": "born",
    "April 15th, 1961": "",
    "1961-04-15": "",
    "scan 24/3/2020": "scan",
    "MRN: RX1234567": "MRN",
    "RX-1234567": "",
    "RXH1234567 done": "RXH done",
    "order ACC-9988-7766": "order",
    "NHS 999 012 3454": "NHS",
    "call 01632 960123": "call",
    "+44 7700 900123 (mobile)": "(mobile)",
    "from TV1 2XY": "from",
    "zoe@example.org": "",
    "see https://pacs.example/x?id=1": "see",
    "St Nowhere CT Chest": "CT Chest",
    "SNGH CT THORAX": "CT THORAX",
    "STNOWHERE_CHEST": "CHEST",
    "12 Imaginary Lane": "",
    "ミュラー様": "様",
    "see RX7654321": "see",  # the trust's hospital-number pattern
    "dose by JEKYLL": "dose by",
    "acquired 19610415103000": "acquired",  # a date with a time
    "S.N.G.H. CT": "CT",
    "ward MULLERZ": "ward",  # a RIS name key: the family name and the given initial
    "ZOË_MÜLLER_CHEST": "CHEST",
    "see stnowhere.nhs.uk/pacs": "see",
}
UNCHANGED = [
    "AXIAL 1.25mm B30f",
    "SIEMENS_RIS",
    "0.000000000",
    "Radiology Department B",
    "CHEST PA ERECT",
    "COVID-19 ?PNEUMONIA",
    "DLP 250 mGy*cm",
    "T2_TSE_TRA",
    "WINDOW 40 400",
    "Imaginex 64",  # the kept model name is technical, even with a number
]


@pytest.mark.parametrize("text", CLEANED, ids=list(CLEANED))
def test_the_finder_removes_what_identifies(text: str) -> None:
    assert FINDER.clean(text) == CLEANED[text]


@pytest.mark.parametrize("text", UNCHANGED)
def test_the_finder_leaves_technical_text_alone(text: str) -> None:
    assert FINDER.clean(text) == text


def test_a_value_kept_by_the_profile_is_not_sought() -> None:
    """With every attribute the institution came from kept, its name is no identifier."""
    original = collect(make_instance(PATIENT))
    institution_tags = original.of(next(k for k in original.values if k.value == "institution"))
    kept = set().union(*institution_tags.values())
    finder = Finder(original, sought=lambda sources: not sources <= kept)
    assert finder.clean("St Nowhere CT Chest") == "St Nowhere CT Chest"
    assert finder.clean("Muller CT") == "CT"


FILLER = st.sampled_from(["CT", "chest", "axial", "lung", "1.25mm", "B30f", "COVID", "-", "(", ")"])
SPELLINGS = st.sampled_from(
    ["MULLER", "Müller", "mueller", "Zoë Müller", "MULLER, ZOE", "RX1234567", "RX 1234567",
     "15/04/1961", "15 Apr 1961", "1961-04-15", "999 012 3454", "St Nowhere"]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(before=st.lists(FILLER, max_size=4), spelling=SPELLINGS, after=st.lists(FILLER, max_size=4))
def test_an_identifier_anywhere_in_technical_text_is_removed(
    before: list[str], spelling: str, after: list[str]
) -> None:
    text = " ".join([*before, spelling, *after])
    cleaned = FINDER.clean(text).upper()
    for word in ("MULLER", "MÜLLER", "MUELLER", "1234567", "1961", "3454", "NOWHERE"):
        assert word not in cleaned, (text, cleaned)
