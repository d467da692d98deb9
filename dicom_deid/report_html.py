"""HTML pieces of the review report: page shell, tables, thumbnails.  Pure helpers; no file writes.

Thumbnails are PNG ``data:`` URIs of one frame, downscaled to at most ``max_side`` pixels,
with redaction boxes drawn in red.  The page loads nothing from anywhere (a Content Security
Policy forbids it) and needs no script to be read; a small inline script adds expand/collapse
buttons and records how many thumbnails decoded (``data-thumbs-ok`` on ``<body>``).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence
from io import BytesIO
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

ACTION_LABELS = {
    "X": "removed",
    "Z": "emptied / pseudonym",
    "D": "replaced (dummy or pseudonym)",
    "C": "cleaned (dates shifted)",
    "U": "UID remapped",
    "K": "kept",
}
ACTION_ORDER = ("X", "Z", "D", "C", "U", "K")

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

STYLE = """
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{padding:16px 24px;background:#1f3a5f;color:#fff}header h1{margin:0;font-size:20px}
.side{margin-top:6px;font-weight:600}.side.input{background:#b3261e;padding:6px 10px;border-radius:4px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #d5d9e0;padding:6px 24px;z-index:2}
nav a{margin-right:14px;color:#1f3a5f;text-decoration:none}nav button{float:right;margin-left:6px}
main{padding:8px 24px 40px}section{background:#fff;border:1px solid #d5d9e0;border-radius:6px;
padding:10px 16px;margin:14px 0}h2{font-size:17px;margin:6px 0 10px}h3{font-size:15px;margin:10px 0 6px}
table{border-collapse:collapse;margin:4px 0 8px}th,td{border:1px solid #dde1e7;padding:3px 8px;
text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#eef1f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.ok{color:#17663a;font-weight:600}.bad{color:#b3261e;font-weight:600}.warn{color:#8a5a00;font-weight:600}
details{margin:4px 0}summary{cursor:pointer}details.study>summary{font-weight:600}
.thumbs{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #dde1e7;border-radius:4px;padding:6px;
background:#fafbfc;font-size:12px;max-width:540px}.pair{display:flex;gap:6px}.pair figure{margin:0}
figcaption{font-size:11px;color:#555;text-align:center}img.thumb{display:block;background:#000;
image-rendering:auto}.muted{color:#667}.pill{display:inline-block;padding:0 6px;border-radius:8px;
background:#e4e8ee;margin:1px 2px;font-size:12px}
"""

SCRIPT = """
(function(){
  var imgs=Array.prototype.slice.call(document.querySelectorAll('img.thumb'));
  function done(){var ok=imgs.filter(function(i){return i.complete&&i.naturalWidth>0}).length;
    document.body.setAttribute('data-thumbs-ok',ok+'/'+imgs.length);
    var el=document.getElementById('thumbs-status');if(el){el.textContent=ok+' of '+imgs.length+' thumbnails rendered';}}
  var pending=imgs.filter(function(i){return !i.complete}).length;
  imgs.forEach(function(i){if(!i.complete){i.addEventListener('load',check);i.addEventListener('error',check);}});
  function check(){pending-=1;if(pending<=0){done();}}
  if(pending===0){done();}
  function all(open){document.querySelectorAll('details').forEach(function(d){d.open=open;});}
  var e=document.getElementById('expand'),c=document.getElementById('collapse');
  if(e){e.addEventListener('click',function(){all(true);});}
  if(c){c.addEventListener('click',function(){all(false);});}
})();
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[int] = (),
          raw: Sequence[int] = ()) -> str:
    """An HTML table; cells are escaped except the columns in ``raw`` (already HTML)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers) if any(headers) else ""
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = str(cell) if i in raw else esc(cell)
            cells.append(f'<td class="n">{text}</td>' if i in numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{thead}<tbody>{''.join(body)}</tbody></table>"


def actions_pills(actions: dict[str, int]) -> str:
    return "".join(f'<span class="pill" title="{esc(ACTION_LABELS.get(c, c))}">{esc(c)} {actions[c]}</span>'
                   for c in ACTION_ORDER if actions.get(c))


def page(title: str, side_html: str, nav: Sequence[tuple[str, str]], sections: Sequence[str]) -> str:
    links = "".join(f'<a href="#{esc(anchor)}">{esc(label)}</a>' for anchor, label in nav)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{esc(title)}</h1>{side_html}</header>"
        f'<nav>{links}<button id="collapse" type="button">collapse all</button>'
        '<button id="expand" type="button">expand all</button></nav>'
        f"<main>{''.join(sections)}</main><script>{SCRIPT}</script></body></html>\n"
    )


# --------------------------------------------------------------------------- thumbnails


def display_image(ds: Dataset, frame: int = 0) -> np.ndarray:
    """One frame as an 8-bit grey or RGB image (only that frame is decoded)."""
    from pydicom.pixels import apply_color_lut  # type: ignore[attr-defined]

    from dicom_deid.pixels.decode import decode_array  # the pipeline's decoders

    options: dict[str, Any] = {"index": frame, "as_rgb": True}
    arr, meta, _plugin = decode_array(ds, **options)
    photometric = str(meta.get("photometric_interpretation", ds.get("PhotometricInterpretation", "")))
    if photometric == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
    data = np.asarray(arr, dtype=np.float32)
    if data.ndim == 3 and data.shape[-1] == 3:
        top = 255.0 if float(data.max()) <= 255 else float((1 << int(ds.get("BitsStored", 16))) - 1)
        if photometric == "PALETTE COLOR" and float(data.max()) > 255:
            top = 65535.0
        return np.asarray(np.clip(data * (255.0 / top), 0, 255), dtype=np.uint8)
    lo, hi = (float(v) for v in np.percentile(data, (0.5, 99.5)))
    if hi <= lo:
        lo, hi = float(data.min()), float(data.max()) or 1.0
    grey = np.asarray(np.clip((data - lo) * (255.0 / max(hi - lo, 1e-6)), 0, 255), dtype=np.uint8)
    return np.asarray(255 - grey, dtype=np.uint8) if photometric == "MONOCHROME1" else grey


def thumbnail(image: np.ndarray, boxes: Sequence[dict[str, Any]] = (), *, max_side: int = 192,
              fill: bool = False) -> tuple[str, int, int]:
    """PNG data URI of ``image`` downscaled to ``max_side``, boxes outlined (or filled: planned)."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(image)
    if fill and boxes:
        img = img.convert("RGB")
        draw = ImageDraw.Draw(img)
        for b in boxes:
            draw.rectangle((b["x"], b["y"], b["x"] + b["w"] - 1, b["y"] + b["h"] - 1), fill=(0, 0, 0))
    scale = min(1.0, max_side / max(img.width, img.height))
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    img = img.resize(size, Image.Resampling.LANCZOS) if scale < 1.0 else img
    if boxes:
        img = img.convert("RGB")
        draw = ImageDraw.Draw(img)
        for b in boxes:
            x0, y0 = b["x"] * scale, b["y"] * scale
            draw.rectangle((x0, y0, x0 + max(1.0, b["w"] * scale), y0 + max(1.0, b["h"] * scale)),
                           outline=(255, 40, 40), width=2)
    if img.mode == "RGB":
        img = img.quantize(colors=64)
    buf = BytesIO()
    img.save(buf, "PNG", optimize=True)
    shown = max(1.0, min(max_side, 128) / max(img.width, img.height))  # small images are shown enlarged
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return uri, round(img.width * shown), round(img.height * shown)


def histogram_svg(histogram: Sequence[tuple[int, int]], k: int) -> str:
    """Equivalence class sizes as an SVG ``data:`` URI (matplotlib, no global state, same bytes each time).

    Bars are patients per class size (classes of that size x size); sizes below ``k`` are red.
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    sizes = [s for s, _ in histogram]
    patients = [s * n for s, n in histogram]
    with rc_context({"svg.hashsalt": "dicom-deid", "svg.fonttype": "none", "font.size": 9}):
        fig = Figure(figsize=(6.4, 2.6))
        ax = fig.add_subplot()
        labels = [str(s) for s in sizes]
        colours = ["#b3261e" if s < k else "#1f3a5f" for s in sizes]
        ax.bar(labels, patients, color=colours)
        ax.set_xlabel("equivalence class size (patients sharing the same quasi-identifiers)")
        ax.set_ylabel("patients")
        ax.set_title(f"Class sizes: red = below k={k}")
        if len(labels) > 30:
            ax.set_xticks(range(0, len(labels), max(1, len(labels) // 15)))
        fig.tight_layout()
        buf = BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def figure(uri: str | None, width: int, height: int, caption: str, problem: str = "") -> str:
    if uri is None:
        return f'<figure><div class="muted">no preview: {esc(problem)}</div><figcaption>{esc(caption)}</figcaption></figure>'
    return (f'<figure><img class="thumb" src="{uri}" width="{width}" height="{height}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


__all__ = ["ACTION_LABELS", "ACTION_ORDER", "actions_pills", "display_image", "esc", "figure", "histogram_svg", "page",
           "table", "thumbnail"]
