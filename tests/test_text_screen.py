"""The cheap screen run on every plain CT and MR slice: it fires on text standing in the air
around the patient, stays quiet on a clean slice, and misses what its docstring and the README
say it misses (text over the anatomy, dark text)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bsti_submit.deid.pixels import Pixels
from bsti_submit.gate.text_screen import may_show_text
from bsti_submit.testing import FakePatient, make_ct_slice


def ct_slice_display() -> np.ndarray:
    """A synthetic chest CT slice (air, body, lungs, noise) as the screen sees it."""
    return Pixels(make_ct_slice(FakePatient(), 3)).display(0).copy()


def with_text(image: np.ndarray, at: tuple[int, int], ink: int, size: int = 14) -> np.ndarray:
    canvas = Image.fromarray(image)
    font = ImageFont.load_default(size=size)
    ImageDraw.Draw(canvas).text(at, "TESTPATIENT 1234567", fill=ink, font=font)
    return np.asarray(canvas)


def test_text_in_the_air_around_the_patient_fires() -> None:
    image = ct_slice_display()
    assert may_show_text(with_text(image, (6, 6), ink=255))
    assert may_show_text(with_text(image, (300, 490), ink=200, size=10))


def test_a_clean_slice_does_not_fire() -> None:
    assert not may_show_text(ct_slice_display())


def test_what_the_screen_misses_by_design() -> None:
    image = ct_slice_display()
    body_grey = int(np.median(image[240:280, 240:280]))
    assert body_grey > 60, "the slice's body should be mid-grey on the display"
    assert not may_show_text(with_text(image, (180, 250), ink=255))  # over the anatomy
    assert not may_show_text(with_text(np.full_like(image, 230), (6, 6), ink=0))  # dark text
