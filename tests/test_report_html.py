"""report_html: escaping, tables, the page frame and thumbnails, called directly."""

from __future__ import annotations

import base64
import re
from io import BytesIO

import numpy as np
import pydicom
from PIL import Image

from dicom_deid.report_html import actions_pills, display_image, esc, figure, page, table, thumbnail
from tests.conftest import TEST_FILES


def test_every_cell_is_escaped_unless_raw() -> None:
    html = table(["a<b", "n"], [["<script>x</script>", 3], ['"q"', 4]], numeric=(1,))
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html and "&quot;q&quot;" in html
    assert html.count('<td class="n">') == 2 and "<th>a&lt;b</th>" in html
    assert "<b>ok</b>" in table(["x"], [["<b>ok</b>"]], raw=(0,))
    assert "<thead>" not in table(["", ""], [["1", "2"]])
    assert esc(None) == "" and esc("'") == "&#x27;"


def test_action_pills_in_the_standard_order_and_only_used_codes() -> None:
    pills = actions_pills({"K": 2, "X": 5, "Z": 0, "U": 1})
    assert re.findall(r">(\w) (\d+)</span>", pills) == [("X", "5"), ("U", "1"), ("K", "2")]  # X Z D C U K
    assert "Z 0" not in pills


def test_page_is_self_contained_with_a_strict_policy() -> None:
    html = page("Run <1>", "<p>side</p>", [("a", "A & B")], ["<section id='a'></section>"])
    assert html.startswith("<!DOCTYPE html>") and "<title>Run &lt;1&gt;</title>" in html
    assert "Content-Security-Policy" in html and "http://" not in html and "https://" not in html
    assert '<a href="#a">A &amp; B</a>' in html


def _png(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    return Image.open(BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_display_image_and_thumbnail() -> None:
    ds = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    image = display_image(ds)
    assert image.dtype == np.uint8 and image.shape == (128, 128) and image.max() > 200 and image.min() < 50
    uri, w, h = thumbnail(image, [{"x": 10, "y": 10, "w": 30, "h": 20}], max_side=64)
    thumb = _png(uri)
    assert thumb.size == (64, 64) and (w, h) == (64, 64)
    _uri, w, h = thumbnail(np.zeros((32, 16), np.uint8))
    assert (w, h) == (64, 128)  # a small image is shown enlarged to 128
    filled, _w, _h = thumbnail(np.full((100, 100), 255, np.uint8), [{"x": 0, "y": 0, "w": 50, "h": 100}], fill=True)
    pixels = np.asarray(_png(filled).convert("L"))
    assert pixels[50, 10] < 60 and pixels[50, 90] > 200  # the planned box is black, the rest untouched


def test_monochrome1_is_shown_inverted() -> None:
    ds = pydicom.dcmread(TEST_FILES / "CT_small.dcm")
    normal = display_image(ds)
    ds.PhotometricInterpretation = "MONOCHROME1"
    assert np.array_equal(display_image(ds), 255 - normal)


def test_figure_with_and_without_an_image() -> None:
    assert figure(None, 1, 1, "cap<", "cannot decode") == (
        '<figure><div class="muted">no preview: cannot decode</div><figcaption>cap&lt;</figcaption></figure>')
    assert '<img class="thumb" src="data:x" width="3" height="4" alt="c">' in figure("data:x", 3, 4, "c")
