"""The burned-in-text benchmark's judge: which glyph pixels count as covered."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from bench_burned_in import filled


def test_a_stroke_enclosed_by_a_blacked_out_box_counts_as_covered() -> None:
    changed = np.zeros((12, 12), bool)
    changed[2:10, 2:10] = True
    changed[5:7, 4:8] = False  # a dark stroke that already had the fill value
    out = filled(changed)
    assert out[5:7, 4:8].all()
    assert out.sum() == 64


def test_a_stroke_open_to_the_rest_of_the_image_is_not_covered() -> None:
    changed = np.zeros((12, 12), bool)
    changed[2:10, 2:10] = True
    changed[5:7, 0:8] = False  # the box stops at the stroke: it leaves the box on the left
    out = filled(changed)
    assert not out[5:7, 0:8].any()
    assert out.sum() == changed.sum()


def test_holes_at_the_image_border_stay_uncovered() -> None:
    changed = np.ones((6, 6), bool)
    changed[0, 2:4] = False
    assert filled(changed).sum() == 34
