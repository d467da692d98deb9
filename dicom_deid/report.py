"""Review report: one self-contained HTML file from a run's manifest (plus verify results).

Two sides, as everywhere in dicom-deid:

* **output side** (no ``input_root``, no ``show_values``): built from the manifest and the
  de-identified files only, so it holds no original value and may travel with the output.
* **input side** (``input_root`` or ``show_values``): adds before thumbnails of redacted images
  (with burned-in text), quarantine sources and messages, and original header values.  It is
  refused inside the output folder.

Large runs stay small: per-study collapsible sections, instance change sets written once and
referenced by number, thumbnails downscaled and capped (every redacted image up to
``max_redacted``, then the first of each series), tables of findings capped at ``max_rows``.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import pydicom

from dicom_deid._version import __version__
from dicom_deid.errors import ConfigError
from dicom_deid.manifest import last_run, read_manifest
from dicom_deid.report_evidence import EVIDENCE_NAV, evidence_sections
from dicom_deid.report_html import (
    ACTION_LABELS,
    ACTION_ORDER,
    actions_pills,
    display_image,
    esc,
    figure,
    page,
    table,
    thumbnail,
)
from dicom_deid.risk.assessment import RiskReport
from dicom_deid.verify import Severity, VerifyResult
from dicom_deid.walk import InputRef, read_bytes, walk_inputs

logger = logging.getLogger(__name__)

_NO_PIXELS_MODALITIES = frozenset({"SR", "KO", "PR", "REG", "RTSTRUCT", "RTPLAN", "RTRECORD", "DOC"})
_WARN_NOTE_WORDS = ("not confirmed", "unconfirmed", "already blank", "warning", "lossy", "face")


@dataclass
class _Run:
    header: dict[str, Any]
    rows: list[dict[str, Any]]
    summary: dict[str, Any] | None
    plan: list[list[Any]]
    out_root: Path
    extra: list[dict[str, Any]] = field(default_factory=list)  # post-pass rows (k_anonymity)

    @property
    def dry_run(self) -> bool:
        return any(r.get("outcome") == "planned" for r in self.rows)


def _load(manifest_path: Path) -> _Run:
    if not manifest_path.is_file():
        raise ConfigError("manifest not found: give a run's output folder or its dicom-deid-manifest.jsonl",
                          path=manifest_path)
    try:
        records = read_manifest(manifest_path)
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read manifest ({exc})", path=manifest_path) from None
    header = next((r for r in records if r.get("type") == "run"), {})
    summary = next((r for r in records if r.get("type") == "summary"), None)
    plan = [row for r in records if r.get("type") == "plan" for row in r.get("rows", [])]
    rows = [r for r in records if r.get("type") == "file"]
    extra = [r for r in records if r.get("type") == "k_anonymity"]
    return _Run(header, rows, summary, plan, manifest_path.parent, extra)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def validate_report_path(out_html: Path, *, output_root: Path, input_root: Path | None = None,
                         input_side: bool | None = None) -> None:
    """Refuse a report path before any work: an input-side report (``input_root`` given, or
    ``input_side``) never inside the output folder; no report inside the input folder."""
    out_html = Path(out_html)
    if input_side is None:
        input_side = input_root is not None
    if input_side and _inside(out_html, Path(output_root)):
        raise ConfigError("an input-side report (original images or values) cannot be written inside the "
                          "output folder: choose a path outside it", path=out_html)
    if input_root is not None and _inside(out_html, Path(input_root)):
        raise ConfigError("the report cannot be written inside the input folder", path=out_html)
    if out_html.suffix.lower() not in (".html", ".htm"):
        raise ConfigError("the report path must end in .html", path=out_html)


def render_report(manifest_path: Path, out_html: Path, *, input_root: Path | None = None,
                  verify: VerifyResult | None = None, sample_thumbnails: int = 12, show_values: bool = False,
                  quarantine_dir: Path | None = None, output_root: Path | None = None, max_redacted: int = 120,
                  max_rows: int = 2000, thumb_side: int = 192, risk: RiskReport | None = None,
                  k: int = 5) -> Path:
    """Write the report for the run whose manifest is ``manifest_path``; return ``out_html``.

    ``output_root`` is the run's output folder (default: the manifest's folder; a dry run that
    writes its manifest elsewhere passes the OUTPUT it would have written).  The evidence sections
    (re-identification risk against ``k``, Safe Harbor, GDPR) use ``risk`` or assess the output's
    headers with the default quasi-identifiers.
    """
    manifest_path, out_html = Path(manifest_path), Path(out_html)
    if manifest_path.is_dir():
        manifest_path = manifest_path / "dicom-deid-manifest.jsonl"
    run = _load(manifest_path)
    if output_root is not None:
        run.out_root = Path(output_root)
    input_side = input_root is not None or show_values or (verify is not None and verify.show_values)
    validate_report_path(out_html, output_root=run.out_root, input_root=input_root, input_side=input_side)
    if show_values and input_root is None:
        raise ConfigError("show_values needs the input folder (input_root)")
    started = time.perf_counter()
    builder = _Builder(run, input_root, input_side, show_values, thumb_side)
    sections = [builder.summary(), builder.verify(verify, max_rows), builder.redacted(max_redacted),
                builder.samples(sample_thumbnails), builder.plan_section(), builder.patients(),
                builder.change_sets(), builder.quarantine(quarantine_dir), builder.warnings(verify)]
    evidence = _evidence(run, risk, k)
    sections[2:2] = evidence
    nav = [("summary", "Summary"), ("verify", "Verify"), *(EVIDENCE_NAV if evidence else []),
           ("redacted", "Redacted images"),
           ("samples", "Sample images"), ("patients", "Patients / studies"), ("changesets", "Change sets"),
           ("quarantine", "Quarantine"), ("warnings", "Warnings")]
    if run.plan:
        nav.insert(4, ("plan", "Plan"))
    if input_side:
        side = ('<div class="side input">INPUT-SIDE REPORT: contains original identifying information '
                "(images with burned-in text, source paths, original values). Keep it with the input; never "
                "release it with the de-identified data.</div>")
    else:
        side = ('<div class="side">Output-side report: built from the manifest and the de-identified files '
                "only; it contains no original values.</div>")
    title = "dicom-deid " + ("dry-run plan" if run.dry_run else "review report")
    out_html.parent.mkdir(parents=True, exist_ok=True)
    from dicom_deid.write import atomic_write_bytes

    # an input-side report shows original images and values: readable by its owner only
    mode = 0o600 if (input_root is not None or show_values) else 0o644
    atomic_write_bytes(out_html, page(title, side, nav, [s for s in sections if s]).encode("utf-8"), mode=mode)
    logger.info("report written in %.2f s (%d rows)", time.perf_counter() - started, len(run.rows))
    return out_html


def _evidence(run: _Run, risk: RiskReport | None, k: int) -> list[str]:
    """The evidence sections; none for a dry run (nothing was written to assess)."""
    if run.dry_run:
        return []
    if risk is None:
        if not run.out_root.is_dir():
            return []
        from dicom_deid.risk.assessment import assess_output

        done = [r for r in run.extra if r.get("status") == "done"]
        if done:  # judge the release on what k-anonymity was enforced for
            risk = assess_output(run.out_root, k=int(done[-1]["k"]), quasi=list(done[-1]["quasi"]))
        else:
            risk = assess_output(run.out_root, k=k)
    return evidence_sections(risk, [*run.rows, *run.extra], run.header)


def render_evidence_report(risk: RiskReport, out_html: Path) -> Path:
    """The evidence pack alone (``dicom-deid risk --report``): output side, headers only."""
    out_html = Path(out_html)
    rows: list[dict[str, Any]] = []
    header: dict[str, Any] = {}
    if risk.context.manifest is not None:
        records = last_run(read_manifest(risk.context.manifest, tolerate_partial=True))
        header = next((r for r in records if r.get("type") == "run"), {})
        rows = [r for r in records if r.get("type") in ("file", "k_anonymity")]
    side = ('<div class="side">Output-side evidence pack: built from the manifest and the de-identified headers '
            "only; it contains no original values.</div>")
    body = page("dicom-deid re-identification risk and evidence pack", side, EVIDENCE_NAV,
                [s for s in evidence_sections(risk, rows, header) if s])
    from dicom_deid.write import atomic_write_bytes

    out_html.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_html, body.encode("utf-8"), mode=0o644)
    return out_html


class _Builder:
    def __init__(self, run: _Run, input_root: Path | None, input_side: bool, show_values: bool,
                 thumb_side: int) -> None:
        self.run = run
        self.input_root = Path(input_root) if input_root is not None else None
        self.input_side = input_side
        self.show_values = show_values
        self.thumb_side = thumb_side
        self._inputs: dict[int, InputRef] | None = None
        self.change_ids: dict[tuple[tuple[str, tuple[str, ...]], ...], int] = {}

    # ----------------------------------------------------------------- helpers

    def input_ref(self, ordinal: int) -> InputRef | None:
        if self.input_root is None:
            return None
        if self._inputs is None:
            self._inputs = {ref.ordinal: ref for ref in walk_inputs(self.input_root)}
        return self._inputs.get(ordinal)

    def _read(self, data: bytes) -> pydicom.Dataset:
        return pydicom.dcmread(BytesIO(data), force=True)

    def output_ds(self, row: dict[str, Any]) -> pydicom.Dataset | None:
        path = self.run.out_root / str(row.get("output", ""))
        if row.get("outcome") != "written" or not path.is_file():
            return None
        return self._read(path.read_bytes())

    def input_ds(self, row: dict[str, Any]) -> pydicom.Dataset | None:
        ref = self.input_ref(int(row["ordinal"]))
        return self._read(read_bytes(ref)) if ref is not None else None

    def _thumb(self, ds: pydicom.Dataset | None, boxes: list[dict[str, Any]], caption: str, *,
               fill: bool = False) -> str:
        if ds is None:
            return figure(None, 0, 0, caption, "file not available on this side")
        if "PixelData" not in ds:
            return figure(None, 0, 0, caption, "no pixel data")
        try:
            uri, w, h = thumbnail(display_image(ds), boxes, max_side=self.thumb_side, fill=fill)
        except Exception as exc:  # noqa: BLE001 - a preview that cannot be made is shown as such
            return figure(None, 0, 0, caption, f"cannot decode ({type(exc).__name__})")
        return figure(uri, w, h, caption)

    def change_id(self, changes: dict[str, list[str]]) -> int:
        key = tuple(sorted((code, tuple(paths)) for code, paths in changes.items()))
        return self.change_ids.setdefault(key, len(self.change_ids) + 1)

    # ----------------------------------------------------------------- sections

    def summary(self) -> str:
        h, s, rows = self.run.header, self.run.summary or {}, self.run.rows
        counts = s.get("counts") or dict(Counter(r.get("outcome", "?") for r in rows))
        totals: Counter[str] = Counter()
        for r in rows:
            totals.update(r.get("actions") or {})
        redacted = sum(1 for r in rows if (r.get("pixels") or {}).get("redacted"))
        examined = sum(1 for r in rows if (r.get("pixels") or {}).get("examined"))
        info = [
            ("run id", h.get("run_id", "?")), ("tool", h.get("tool", "?")), ("standard", h.get("standard", "?")),
            ("profile", h.get("profile", "?")), ("options", ", ".join(h.get("options", [])) or "none"),
            ("key id", h.get("key_id", "?")), ("started", h.get("started", "?")),
            ("duration", f"{s.get('seconds', '?')} s"), ("inputs", s.get("files", len(rows))),
            ("bytes read", s.get("bytes", "?")), ("interrupted", {"True": "yes", "False": "no"}.get(str(s.get("interrupted")), "unknown")),
            ("mode", "dry run: nothing was written" if self.run.dry_run else "de-identification"),
            ("report", (f"dicom-deid {__version__}, pydicom {pydicom.__version__}, Python "
                        f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")),
        ]
        outcome_rows = sorted(counts.items())
        action_rows = [(c, ACTION_LABELS[c], totals.get(c, 0)) for c in ACTION_ORDER]
        return (
            '<section id="summary"><h2>Run summary</h2>' + table(("", ""), info)
            + "<h3>Inputs by outcome</h3>" + table(("outcome", "inputs"), outcome_rows, numeric=(1,))
            + "<h3>Actions over all instances</h3>" + table(("code", "action", "elements"), action_rows, numeric=(2,))
            + f"<p>Pixel data examined in {examined} instance(s), redacted in {redacted}. "
            + '<span id="thumbs-status" class="muted"></span></p>' + self.pixel_summary() + "</section>"
        )

    def pixel_summary(self) -> str:
        """How each instance's pixels were examined (issue 9), and a loud line when they were not."""
        rows = [r for r in self.run.rows if r.get("outcome") in ("written", "planned")]
        mode = self.run.header.get("pixels")
        if mode == "off":
            return ('<p class="bad">Burned-in text was NOT examined: this run used <code>--pixels off</code>. '
                    "Text burned into the images (names, IDs, dates) is still in the output.</p>")
        ways = Counter(str((r.get("pixels") or {}).get("examination", "no record")) for r in rows)
        kinds: Counter[str] = Counter()
        for r in rows:
            p = r.get("pixels") or {}
            kinds.update({"text regions": p.get("text_boxes", 0), "region-rule rectangles": p.get("region_boxes", 0),
                          "faces": p.get("face_boxes", 0), "unconfirmed regions redacted": p.get("uncertain", 0),
                          "unconfirmed regions left": p.get("uncertain_kept", 0)})
        return ("<h3>Pixel examination" + (f" (--pixels {esc(str(mode))})" if mode else "") + "</h3>"
                + table(("examination", "instances"), sorted(ways.items()), numeric=(1,))
                + table(("blacked out", "count"), sorted(kinds.items()), numeric=(1,)))

    def verify(self, result: VerifyResult | None, max_rows: int) -> str:
        if result is None:
            return ('<section id="verify"><h2>Verify</h2><p class="muted">Not run. Run <code>dicom-deid verify '
                    "OUTPUT --against INPUT</code> or <code>dicom-deid report ... --verify</code>.</p></section>")
        from dicom_deid.verify import Category

        status = ('<p class="ok">No findings.</p>' if result.ok else
                  f'<p class="bad">{len(result.errors)} finding(s): the output must not be released as is.</p>')
        counts = result.counts()
        rows = [(c.value, c.title, counts[c.value]) for c in Category]
        shown = result.findings[:max_rows]
        cols = ("cat.", "severity", "file", "where", "detail") + (("value",) if result.show_values else ())
        frows = [(f.category.value, f.severity.value, f.file, f.where, f.detail)
                 + ((f.value or "",) if result.show_values else ()) for f in shown]
        more = (f"<p class='muted'>First {max_rows} of {len(result.findings)} findings; use "
                "<code>verify --json</code> for all.</p>") if len(result.findings) > max_rows else ""
        info = (f"<p>{result.files_checked} files checked ({result.dicom_checked} DICOM), profile "
                f"<b>{esc(result.profile)}</b>, against input: {'yes' if result.against else 'no'}, OCR "
                f"{esc(result.ocr)} ({result.images_ocr} images), identifying values searched: "
                f"{esc(', '.join(f'{k} {v}' for k, v in result.needles.items()) or 'none')}.</p>")
        notes = "".join(f"<p class='warn'>{esc(n)}</p>" for n in result.notes)
        return ('<section id="verify"><h2>Verify</h2>' + status + info + notes
                + table(("cat.", "check", "findings"), rows, numeric=(2,))
                + (table(cols, frows) if frows else "") + more + "</section>")

    def redacted(self, max_redacted: int) -> str:
        rows = [r for r in self.run.rows if (r.get("pixels") or {}).get("redacted")
                or (r.get("outcome") == "planned" and (r.get("pixels") or {}).get("boxes"))]
        if not rows:
            return '<section id="redacted"><h2>Redacted images</h2><p>No pixel data was redacted.</p></section>'
        chosen = rows
        note = ""
        if len(rows) > max_redacted:
            firsts: dict[str, dict[str, Any]] = {}
            for r in rows:
                firsts.setdefault(str(r.get("output", "")).rsplit("/", 1)[0], r)
            chosen = list(firsts.values())[:max_redacted]
            note = (f"<p class='warn'>{len(rows)} redacted images: thumbnails of the first image of each series "
                    f"({len(chosen)}); every box is listed in the table below.</p>")
        cards = []
        for r in chosen:
            boxes = list((r.get("pixels") or {}).get("boxes") or [])
            label = f"#{r['ordinal']} {r.get('modality') or ''} · {len(boxes)} box(es)"
            figs = []
            if self.input_side:
                before = self.input_ds(r)
                figs.append(self._thumb(before, boxes, "before (input)"))
                if r.get("outcome") == "planned":
                    figs.append(self._thumb(before, boxes, "after (planned)", fill=True))
            if r.get("outcome") == "written":
                figs.append(self._thumb(self.output_ds(r), boxes, "after (output)"))
            cards.append(f'<div class="card"><div class="pair">{"".join(figs)}</div><div>{esc(label)}</div>'
                         f'<div class="muted mono">{esc(_short(r.get("output")))}</div></div>')
        box_rows = [(r["ordinal"], _short(r.get("output")), b.get("x"), b.get("y"), b.get("w"), b.get("h"),
                     "all" if b.get("frames") is None else ",".join(map(str, b["frames"])), b.get("source", ""))
                    for r in rows for b in (r.get("pixels") or {}).get("boxes") or []]
        side = "" if self.input_side else ("<p class='muted'>Output side: after images only (before images "
                                           "show burned-in text and appear only in an input-side report).</p>")
        return ('<section id="redacted"><h2>Redacted images</h2>' + side + note
                + f'<div class="thumbs">{"".join(cards)}</div><details><summary>All {len(box_rows)} boxes</summary>'
                + table(("#", "instance", "x", "y", "w", "h", "frames", "found by"), box_rows, numeric=(0, 2, 3, 4, 5))
                + "</details></section>")

    def samples(self, count: int) -> str:
        candidates = [r for r in self.run.rows if r.get("outcome") in ("written", "planned")
                      and not (r.get("pixels") or {}).get("redacted")
                      and (r.get("modality") or "") not in _NO_PIXELS_MODALITIES]
        if count <= 0 or not candidates:
            return ""
        series: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in candidates:
            series[str(r.get("output", "")).rsplit("/", 1)[0]].append(r)
        picks: list[dict[str, Any]] = []
        lists = list(series.values())
        depth = 0
        while len(picks) < count and any(depth < len(v) for v in lists):
            level = [v[depth] for v in lists if depth < len(v)]
            step = max(1, len(level) // max(1, count - len(picks)))
            picks.extend(level[::step][: count - len(picks)])
            depth += 1
        cards = []
        for r in picks:
            ds = self.output_ds(r) if r.get("outcome") == "written" else (self.input_ds(r) if self.input_side else None)
            note = (r.get("pixels") or {}).get("note", "pixels not examined")
            cards.append(f'<div class="card">{self._thumb(ds, [], "#" + str(r["ordinal"]) + " " + (r.get("modality") or ""))}'
                         f'<div class="muted">{esc(note)}</div></div>')
        return (f'<section id="samples"><h2>Sample of images not redacted ({len(picks)} of {len(candidates)})</h2>'
                f'<div class="thumbs">{"".join(cards)}</div></section>')

    def plan_section(self) -> str:
        if not self.run.plan:
            return ""
        rows = sorted(self.run.plan, key=lambda r: (str(r[0]), str(r[1])))
        return ('<section id="plan"><h2>Plan (dry run)</h2>'
                + table(("attribute", "action", "rule", "instances"), rows, numeric=(3,)) + "</section>")

    def patients(self) -> str:
        tree: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
        for r in self.run.rows:
            parts = str(r.get("output") or "").split("/")
            if len(parts) == 4:
                tree[parts[0]][parts[1]][parts[2]].append(r)
        values = self._value_rows() if self.show_values else {}
        out = ['<section id="patients"><h2>Patients, studies, series, instances</h2>',
               table(("pseudo patient", "studies", "series", "instances"),
                     [(p, len(st), sum(len(se) for se in st.values()),
                       sum(len(i) for se in st.values() for i in se.values())) for p, st in sorted(tree.items())],
                     numeric=(1, 2, 3))]
        for patient, studies in sorted(tree.items()):
            for study, series in sorted(studies.items()):
                n = sum(len(v) for v in series.values())
                out.append(f'<details class="study"><summary>{esc(patient)} / study {esc(_short(study))} — '
                           f"{len(series)} series, {n} instances</summary>")
                srows = []
                for uid, inst in sorted(series.items()):
                    acts: Counter[str] = Counter()
                    for r in inst:
                        acts.update(r.get("actions") or {})
                    mods = ",".join(sorted({str(r.get("modality") or "?") for r in inst}))
                    srows.append((_short(uid), mods, len(inst), actions_pills(dict(acts))))
                out.append(table(("series", "modality", "instances", "actions"), srows, numeric=(2,), raw=(3,)))
                for uid, inst in sorted(series.items()):
                    irows = [(r["ordinal"], _short(str(r.get("output", "")).rsplit("/", 1)[-1]), r.get("modality") or "",
                              r.get("outcome"), actions_pills(r.get("actions") or {}),
                              f'<a href="#cs-{self.change_id(r.get("changes") or {})}">set {self.change_id(r.get("changes") or {})}</a>',
                              esc((r.get("pixels") or {}).get("note", "")))
                             for r in sorted(inst, key=lambda r: r["ordinal"])]
                    out.append(f"<details><summary>series {esc(_short(uid))}: {len(inst)} instance(s)</summary>"
                               + table(("#", "instance", "modality", "outcome", "actions", "changes", "pixels"),
                                       irows, numeric=(0,), raw=(4, 5, 6)))
                    if inst and (vals := values.get(inst[0]["ordinal"])):
                        out.append(f"<h3>Values of instance #{inst[0]['ordinal']} (input side)</h3>"
                                   + table(("attribute", "action", "original", "now"), vals))
                    out.append("</details>")
                out.append("</details>")
        out.append("</section>")
        return "".join(out)

    def change_sets(self) -> str:
        if not self.change_ids:
            return ""
        parts = [('<section id="changesets"><h2>Change sets</h2><p class="muted">Attributes changed per instance '
                  "(no values), written once per distinct set and referenced from the instance tables.</p>")]
        for key, number in sorted(self.change_ids.items(), key=lambda kv: kv[1]):
            rows = [(code, ACTION_LABELS.get(code, code), ", ".join(paths)) for code, paths in key]
            parts.append(f'<details id="cs-{number}"><summary>set {number}: '
                         f"{sum(len(p) for _, p in key)} attributes</summary>"
                         + table(("code", "action", "attributes"), rows) + "</details>")
        parts.append("</section>")
        return "".join(parts)

    def quarantine(self, quarantine_dir: Path | None) -> str:
        rows = [r for r in self.run.rows if r.get("outcome") == "quarantined"]
        skipped = Counter(r.get("outcome") for r in self.run.rows if str(r.get("outcome", "")).startswith("skipped"))
        extra: dict[str, dict[str, Any]] = {}
        qdir = quarantine_dir or self.run.out_root.with_name(self.run.out_root.name + ".quarantine")
        if self.input_side and (qdir / "reasons.jsonl").is_file():
            for line in (qdir / "reasons.jsonl").read_text(encoding="utf-8").splitlines():
                if line.strip():
                    rec = json.loads(line)
                    extra[str(rec.get("file", "")).split("-", 1)[0].lstrip("0") or "0"] = rec
        table_rows = []
        for r in rows:
            rec = extra.get(str(r["ordinal"]), {})
            base = (r["ordinal"], r.get("input_id", ""), r.get("reason", ""))
            table_rows.append(base + ((rec.get("source", ""), rec.get("message", "")) if self.input_side else ()))
        cols = ("#", "input id", "reason") + (("source (input side)", "message") if self.input_side else ())
        skipped_text = ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())) or "none"
        return (f'<section id="quarantine"><h2>Quarantined inputs ({len(rows)})</h2>'
                + (table(cols, table_rows, numeric=(0,)) if rows else "<p>None.</p>")
                + f"<p>Skipped inputs: {esc(skipped_text)}.</p></section>")

    def warnings(self, result: VerifyResult | None) -> str:
        items: list[str] = [str(w) for w in self.run.header.get("warnings", [])]  # the run's own (engine)
        notes = Counter(str((r.get("pixels") or {}).get("note", "")) for r in self.run.rows if r.get("pixels"))
        for note, n in sorted(notes.items()):
            if any(w in note.lower() for w in _WARN_NOTE_WORDS):
                items.append(f"{n} instance(s): {note}")
        options = self.run.header.get("options", [])
        unexamined = [r for r in self.run.rows if r.get("outcome") in ("written", "planned") and not r.get("pixels")
                      and (r.get("modality") or "") not in _NO_PIXELS_MODALITIES]
        kept = sum(1 for r in self.run.rows if r.get("document") == "kept")
        if kept:
            items.append(f"{kept} instance(s) hold an encapsulated document written unexamined (--documents keep): "
                         "review each body before release")
        if "clean_pixel_data" in options and unexamined:
            items.append(f"{len(unexamined)} image instance(s) have no pixel record: the pixel stage was off")
        if self.run.header.get("pixels") == "off":
            items.append("--pixels off: burned-in text was not examined in any instance")
        review = [r for r in self.run.rows if "defacing" in ((r.get("pixels") or {}).get("review") or [])]
        if review:
            items.append(f"{len(review)} head CT/MR instance(s) need defacing review (Clean Recognizable Visual "
                         "Features: a face can be reconstructed from the volume)")
        if (self.run.summary or {}).get("interrupted") or self.run.summary is None:
            items.append("the run was interrupted or has no summary line: re-run the same command to finish")
        if result is not None:
            items.extend(f"verify: {f.file} {f.where}: {f.detail}" for f in result.findings
                         if f.severity is Severity.WARNING)
            items.extend(f"verify: {n}" for n in result.notes)
        listing = "".join(f"<li>{esc(i)}</li>" for i in items[:500]) or "<li>None.</li>"
        note_rows = sorted(notes.items(), key=lambda kv: -kv[1])
        return ('<section id="warnings"><h2>Warnings</h2><ul>' + listing + "</ul>"
                + ("<h3>Pixel stage notes</h3>" + table(("note", "instances"), note_rows, numeric=(1,)) if notes else "")
                + "</section>")

    def _value_rows(self) -> dict[int, list[tuple[str, str, str, str]]]:
        """Original and new values of the changed attributes, first instance of each series (input side)."""
        firsts: dict[str, dict[str, Any]] = {}
        for r in self.run.rows:
            if r.get("output") and r.get("outcome") in ("written", "planned"):
                firsts.setdefault(str(r["output"]).rsplit("/", 1)[0], r)
        out: dict[int, list[tuple[str, str, str, str]]] = {}
        for r in firsts.values():
            before, after = self.input_ds(r), self.output_ds(r)
            rows = []
            for code in ACTION_ORDER:
                for path in (r.get("changes") or {}).get(code, []):
                    rows.append((path, code, _value_at(before, path), _value_at(after, path) if after else "(dry run)"))
            out[int(r["ordinal"])] = rows
        return out


def _short(text: Any) -> str:
    value = str(text or "")
    return value if len(value) <= 24 else value[:10] + "…" + value[-10:]


def _value_at(ds: pydicom.Dataset | None, path: str) -> str:
    """The value at a manifest attribute path (``Seq[0].Keyword``, ``(0029,1010)``), or "(absent)"."""
    import re

    current: Any = ds
    for part in path.split("."):
        m = re.fullmatch(r"(\w+|\([0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\))(?:\[(\d+)\])?", part)
        if current is None or m is None:
            return "(absent)"
        key: Any = m.group(1)
        if key.startswith("("):
            key = int(key[1:5] + key[6:10], 16)
        if not isinstance(current, pydicom.Dataset) or key not in current:
            return "(absent)"
        value = current[key].value
        if m.group(2) is not None:
            items = list(value or [])
            idx = int(m.group(2))
            current = items[idx] if idx < len(items) else None
        else:
            current = value
    if isinstance(current, pydicom.Sequence):
        return f"({len(current)} item(s))"
    text = current.decode("latin-1") if isinstance(current, bytes) else str(current if current is not None else "")
    return text[:200]


__all__ = ["render_evidence_report", "render_report", "validate_report_path"]
