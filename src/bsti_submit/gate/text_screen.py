"""A cheap test of whether a cross-sectional slice may show text, run on every plain CT or MR
slice so that the full text detection runs only where it fires.

Text on such a slice is drawn by the scanner or a workstation in the margins: glyphs, thin strokes
of sharp contrast, standing on the flat background of the air around the patient. The test finds
bright thin strokes (a morphological top-hat), keeps the connected pieces of glyph size that
stand in the dark background around the patient, and fires on two or more. It costs a few
milliseconds a slice.

What it misses, by design: text laid over the anatomy or enclosed by it (only the dark
background that reaches the image's edge counts), a single character on its own (a laterality
marker), text darker than its background, and strokes fainter than a fifth of the slice's
display range or wider than STROKE pixels.
"""

from __future__ import annotations

import numpy as np

STROKE = 9  # pixels: thinner structures count as strokes
_CONTRAST = 50  # of 255: a stroke stands this far out of its surroundings
_GLYPH_HEIGHT = (4, 48)  # pixels
_GLYPH_AREA = 5  # pixels of ink, at least
_ENOUGH_GLYPHS = 2


def may_show_text(image: np.ndarray) -> bool:
    """Whether an 8-bit grey or RGB image may hold text outside its anatomy."""
    import cv2

    grey = image if image.ndim == 2 else np.asarray(image.mean(axis=2), np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (STROKE, STROKE))
    opened = cv2.morphologyEx(grey, cv2.MORPH_OPEN, kernel)
    strokes = (grey - opened) >= _CONTRAST  # bright and thin
    if int(np.count_nonzero(strokes)) < _ENOUGH_GLYPHS * _GLYPH_AREA:
        return False
    _, _, stats, centres = cv2.connectedComponentsWithStats(strokes.view(np.uint8), connectivity=8)
    heights, widths = stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_WIDTH]
    glyphs = (
        (heights >= _GLYPH_HEIGHT[0])
        & (heights <= _GLYPH_HEIGHT[1])
        & (widths <= _GLYPH_HEIGHT[1])
        & (stats[1:, cv2.CC_STAT_AREA] >= _GLYPH_AREA)
    )
    if int(np.count_nonzero(glyphs)) < _ENOUGH_GLYPHS:
        return False
    outside = _outside(cv2.morphologyEx(opened, cv2.MORPH_CLOSE, kernel))
    x, y = centres[1:, 0].astype(int), centres[1:, 1].astype(int)
    return int(np.count_nonzero(glyphs & outside[y, x])) >= _ENOUGH_GLYPHS


def _outside(background: np.ndarray) -> np.ndarray:
    """The dark background that reaches the image's edge: the air around the patient, not the
    lungs or bowel gas inside (the image without its strokes, split at Otsu's threshold)."""
    import cv2

    _, bright = cv2.threshold(background, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    _, labels = cv2.connectedComponents(1 - bright, connectivity=4)
    edge = np.concatenate((labels[0], labels[-1], labels[:, 0], labels[:, -1]))
    touching = np.unique(edge[edge > 0])
    return np.isin(labels, touching)
