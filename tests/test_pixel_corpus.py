"""The synthetic burned-in text corpus through the real line: every identifying region drawn
into the pixels is masked or its instance held, and every clean image is delivered with its
pixels unchanged (but for the harmless text planted in it). See tests/pixel_eval.py."""

from __future__ import annotations

import pytest

from tests.pixel_corpus import pixel_cases
from tests.pixel_eval import Outcome, evaluate, summary

pytestmark = pytest.mark.integration  # the whole pixel corpus through the line, with OCR

# Text too small for the detector at the scale it reads large images: an 11-pixel bitmap font on
# a 2,000 x 2,500 radiograph is under 6 pixels high once shrunk (README: what detection cannot
# promise).
# Mid-grey text over the body of a 512 x 512 CT slice: read at its own size (enlarging it would
# split it into tiles), the detector misses it. To fix: read such slices enlarged, untiled.
KNOWN_MISSES = frozenset(
    {"cr-12bit-full-size-tiny-bitmap-top-right", "ct-axial-name-over-body-mid-grey"}
)
CASES = pixel_cases()


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    return {outcome.case.name: outcome for outcome in evaluate("bsti-covid19", CASES)}


@pytest.mark.parametrize("name", [case.name for case in CASES if not case.clean])
def test_identifying_text_is_masked_or_held(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = outcomes[name]
    if name in KNOWN_MISSES:
        assert outcome.missed, f"{name} is caught now: take it off KNOWN_MISSES"
        return
    assert not outcome.missed, [planted.text for planted in outcome.missed]


@pytest.mark.parametrize("name", [case.name for case in CASES if case.clean])
def test_a_clean_image_is_delivered_unchanged(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = outcomes[name]
    assert not outcome.held, outcome.findings
    assert outcome.changed_elsewhere == 0


def test_recall_and_false_alarms(outcomes: dict[str, Outcome]) -> None:
    recall, false_alarms, regions, clean = summary(list(outcomes.values()))
    assert regions >= 70 and clean >= 12
    assert recall >= 0.95 and false_alarms == 0
