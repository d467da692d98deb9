"""Find burned-in text in the search images of a decoded instance.  Uses ``ocr``; knows no files.

The search images (``views.py``): a single frame's display image, or for a multi-frame run its
projections, sampled frames and frames that show something alone.  Every box found applies to
every frame (``frames=None``) until ``frames.assign_frames`` places it.  Views made for the
detector (a colour-flow view, a chroma view) are searched near their marks only (``near.py``).

:func:`find_text` is the whole search: detector proposals over the search images, merged,
read by the recognizer and judged (``confirm.py``), then looked at again where the first reading
may have failed (``_second_look``, ``_row_join``, ``_line_join``, ``_tilted_bands``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from dicom_deid.pixels.confirm import (
    CONFIRM_FEW,
    MIN_CONFIDENT,
    MIN_PAD,
    PAD_SHARE,
    TILTED,
    Judged,
    Proposal,
    Verdict,
    core_of,
    group_duplicates,
    judge,
    pad_box,
    union_box,
)
from dicom_deid.pixels.deskew import LevelLine, level_line
from dicom_deid.pixels.near import with_chroma_view, with_flow_views
from dicom_deid.pixels.ocr import TextBox, TextDetector
from dicom_deid.pixels.readout import LonePart, read_out
from dicom_deid.pixels.recognize import Reading
from dicom_deid.pixels.redact import RedactionBox, Strip

if TYPE_CHECKING:
    import numpy.typing as npt


class TextRecognizer(Protocol):
    """Reads the text in boxes of an image (``recognize.CrnnRecognizer``)."""

    def read_boxes(self, image: npt.NDArray[np.uint8], boxes: Sequence[TextBox]) -> list[Reading]: ...


@dataclass(frozen=True, slots=True)
class TextSearch:
    """What the search found: judged regions (tight, padded) and the images searched."""

    judged: tuple[Judged, ...]
    images: tuple[npt.NDArray[np.uint8], ...]

    def boxes(self, *verdicts: Verdict) -> list[RedactionBox]:
        return [box for box, _image in self.found(*verdicts)]

    def found(self, *verdicts: Verdict) -> list[tuple[RedactionBox, npt.NDArray[np.uint8]]]:
        """The regions judged ``verdicts``, each with the search image it was judged on."""
        return [
            (RedactionBox(j.box.x, j.box.y, j.box.width, j.box.height, None, "detector", j.strip()),
             self.images[j.image])
            for j in self.judged
            if j.verdict in verdicts
        ]

    def count(self, verdict: Verdict) -> int:
        return sum(1 for j in self.judged if j.verdict is verdict)


#: A line is confirmed on its first few characters: at most this many line heights are read.
PREFIX_LINES = 6


def next_member(group: Sequence[Proposal], tried: Sequence[Proposal]) -> Proposal | None:
    """The member of ``group`` to read next: the best-scoring one seen in a search image not read
    yet (a projection that blurs the text does not hide it), else the best-scoring one whose box
    was not read yet (another pass's box of the same line, a pixel or two off: a 7 px label read
    "Rw:T6A819" in one box and "wkn:769519" in the other), else none.  Such a box is the same
    pixels read again: ``find_text`` takes its reading only when it confirms the line."""
    seen = {p.image for p in tried}
    fresh = next((p for p in group if p.image not in seen), None)
    if fresh is not None:
        return fresh
    read = {(p.image, p.box.x, p.box.y, p.box.width, p.box.height) for p in tried}
    return next((p for p in group if (p.image, p.box.x, p.box.y, p.box.width, p.box.height) not in read), None)


def prefix(box: TextBox) -> TextBox:
    """The start of the line in ``box`` (reading cost grows with length; a few glyphs confirm)."""
    if box.height > 1.3 * box.width:  # vertical
        return TextBox(box.x, box.y, box.width, min(box.height, PREFIX_LINES * box.width), box.score, box.core)
    return TextBox(box.x, box.y, min(box.width, PREFIX_LINES * box.height), box.height, box.score, box.core)


class TextFinder(Protocol):
    """The whole text search over an instance's search images (``find_text`` by default)."""

    def __call__(
        self, images: Sequence[npt.NDArray[np.uint8]], derived: Sequence[bool]
    ) -> TextSearch: ...


def find_text(
    images: Sequence[npt.NDArray[np.uint8]],
    detector: TextDetector,
    recognizer: TextRecognizer,
    *,
    derived: Sequence[bool] = (),
    attempts: int = 3,
) -> TextSearch:
    """Detector proposals over ``images``, grouped, read and judged.

    Each group of duplicate proposals is read on its best-scoring member (the start of the line:
    ``PREFIX_LINES`` line heights); while it is not
    confirmed, the next member seen in another search image is read (up to ``attempts``), so a
    projection that blurs the text does not hide it.  The region judged is the union of the
    group's boxes, tightened to its ink on the image that read best.  ``derived[i]`` marks
    projections (not frames): an uncertain reading there does not count.
    """
    plain = getattr(detector, "without_edge_pad", None)
    projection = plain() if any(derived) and callable(plain) else detector
    proposals = [
        Proposal(box, index)
        for index, image in enumerate(images)
        for box in (projection if index < len(derived) and derived[index] else detector).detect(image)
    ]
    images, derived, more = with_flow_views(images, derived, detector)
    proposals += more
    images, derived, more = with_chroma_view(images, derived, detector, proposals)
    proposals += more
    groups = group_duplicates(proposals)
    best: list[tuple[Judged, Reading] | None] = [None] * len(groups)
    tried: list[list[Proposal]] = [[] for _ in groups]
    rank = {Verdict.CONFIRMED: 2, Verdict.UNCERTAIN: 1, Verdict.REJECTED: 0}
    for _ in range(attempts):
        todo: dict[int, list[tuple[int, Proposal, bool]]] = {}
        for g, group in enumerate(groups):
            if best[g] is not None and best[g][0].verdict is Verdict.CONFIRMED:  # type: ignore[index]
                continue
            member = next_member(group, tried[g])
            if member is None:
                continue
            again = any(p.image == member.image for p in tried[g])  # another box, same pixels
            tried[g].append(member)
            todo.setdefault(member.image, []).append((g, member, again))
        if not todo:
            break
        for index, members in todo.items():
            prefixes = [prefix(m.box) for _, m, _again in members]
            readings = recognizer.read_boxes(images[index], prefixes)
            for (g, _member, again), reading, read_box in zip(members, readings, prefixes, strict=True):
                verdict = judge_group(images[index], index, groups[g], reading, read_box,
                                      derived=index < len(derived) and derived[index])
                if again and verdict.verdict is not Verdict.CONFIRMED:
                    # the same pixels read again: a confirmation counts, an "uncertain" reading of
                    # anatomy is chance (and high-risk images black out uncertain regions)
                    continue
                current = best[g]
                if current is None or rank[verdict.verdict] > rank[current[0].verdict]:
                    best[g] = (verdict, reading)
    _second_look(images, groups, best, recognizer, derived)
    _row_join(images, groups, best, recognizer, derived)
    _line_join(images, groups, best, recognizer, derived)
    _tilted_bands(images, groups, best)
    judged = sorted((b[0] for b in best if b is not None), key=lambda j: (j.box.y, j.box.x))
    return TextSearch(tuple(judged), tuple(images))


#: A level line whose group holds at least ``LONE_GROUP`` proposals, of which one alone runs on
#: by a line height or more beyond the extent the others reach, is kept beyond that extent only
#: where the part only the lone box holds reads as text (``judge_group``): any letter or digit read
#: there, surely or not (``readout.LonePart``: a faint name only one box held was cut off).
LONE_GROUP = 3


def judge_group(
    image: npt.NDArray[np.uint8], index: int, group: Sequence[Proposal], reading: Reading, read_box: TextBox,
    *, derived: bool,
) -> Judged:
    """The verdict for ``group`` (read as ``reading`` in ``read_box`` on ``image``) on the union of
    its boxes, but where one box alone runs on beyond the others (a red clock amid colour flow,
    boxed on one frame of a cine with 27 px of the flow beside it), the part of the line beyond
    the extent at least two boxes reach is growth (``Judged.grown``), kept only where it reads as
    text on its own (``fit.confirm_growth``), and so is what the line grew by beyond it: followed
    from an end that is not the line's, it is dropped with that part (the clock was blacked out
    130 px long)."""
    boxes = [p.box for p in group]
    verdict = judge(image, Proposal(union_box(boxes), index), reading, read_box=read_box,
                    core=core_of(boxes), derived=derived)
    agreed = _agreed_extent(boxes)
    line = verdict.line
    if agreed is None or verdict.verdict is not Verdict.CONFIRMED or line is None or line.width < line.height:
        return verdict
    x0, x1 = max(line.x, agreed.x), min(line.x1, agreed.x1)
    whole = union_box(boxes)
    grown = tuple(_held_alone(piece, agreed, whole) for piece in verdict.grown)
    if (x0, x1) == (line.x, line.x1) or x1 - x0 < line.height:
        return verdict if grown == verdict.grown else dataclasses.replace(verdict, grown=grown)
    lone = tuple(piece for piece in (
        LonePart(line.x, line.y, x0 - line.x, line.height, line.score) if x0 > line.x else None,
        LonePart(x1, line.y, line.x1 - x1, line.height, line.score) if x1 < line.x1 else None,
    ) if piece is not None)
    return dataclasses.replace(verdict, line=TextBox(x0, line.y, x1 - x0, line.height, line.score, line.core),
                               grown=(*lone, *grown))


def _held_alone(piece: TextBox, agreed: TextBox, whole: TextBox) -> TextBox:
    """``piece`` of a line's growth as a ``LonePart`` where it lies beyond ``agreed`` (the extent
    two boxes of its group reach) within ``whole`` (their union): the lone box holds it.  A line
    tightened to the strokes of one colour (a red clock) leaves a grey name after it, in the lone
    box, as growth out to that box's end (``confirm._within_box``)."""
    if isinstance(piece, LonePart):
        return piece
    if agreed.x1 <= piece.x and piece.x1 <= whole.x1 or whole.x <= piece.x and piece.x1 <= agreed.x:
        return LonePart(piece.x, piece.y, piece.width, piece.height, piece.score, piece.core)
    return piece


def _agreed_extent(boxes: Sequence[TextBox]) -> TextBox | None:
    """The union of ``boxes`` (a level line's) cut along the line to the extent at least two of
    them reach; None where that is the union but for less than a line height at each end, or
    there are fewer than ``LONE_GROUP`` boxes."""
    whole = union_box(boxes)
    if len(boxes) < LONE_GROUP or whole.width < whole.height:
        return None
    x0 = sorted(b.x for b in boxes)[1]
    x1 = sorted(b.x1 for b in boxes)[-2]
    if x1 - x0 < whole.height or max(x0 - whole.x, whole.x1 - x1) < whole.height:
        return None
    return TextBox(x0, whole.y, x1 - x0, whole.height, whole.score, whole.core)


def _second_look(
    images: Sequence[npt.NDArray[np.uint8]],
    groups: Sequence[Sequence[Proposal]],
    best: list[tuple[Judged, Reading] | None],
    recognizer: TextRecognizer,
    derived: Sequence[bool],
) -> None:
    """Read again, once, the regions left unconfirmed where the first reading may have failed
    for a reason other than there being no text (``best`` is updated in place):

    * a long line whose start (``prefix``) read a few confident characters but not enough: the
      whole line is read (a faint dot-matrix date read "2828832" on its first six line heights
      and "28288324" whole);
    * a region of a colour image: it is read on the colour channel that varies most across it
      (cyan text on a pale blue-pink photograph has almost the luminance of its background: the
      recognizer, which reads luminance contrast, saw nothing; its red channel reads it).
    """
    redo: dict[tuple[int, str], list[tuple[int, TextBox]]] = {}
    for g, group, current, whole in _unconfirmed(groups, best):
        member = group[0]
        image = images[member.image]
        start = prefix(member.box)
        if start != member.box and _confident(current[1]) >= CONFIRM_FEW:
            redo.setdefault((member.image, "luminance"), []).append((g, TextBox(
                whole.x, whole.y, whole.width, whole.height, member.box.score, member.box.core)))
        if image.ndim == 3:
            redo.setdefault((member.image, f"channel{_vivid_channel(image, whole)}"), []).append((g, start))
    rank = {Verdict.CONFIRMED: 2, Verdict.UNCERTAIN: 1, Verdict.REJECTED: 0}
    for (index, view), members in redo.items():
        image = images[index]
        if view.startswith("channel"):
            image = np.ascontiguousarray(image[:, :, int(view.removeprefix("channel"))])
        readings = recognizer.read_boxes(image, [box for _, box in members])
        for (g, read_box), reading in zip(members, readings, strict=True):
            region = Proposal(union_box([p.box for p in groups[g]]), index)
            verdict = judge(image, region, reading, read_box=read_box, core=core_of([p.box for p in groups[g]]),
                            derived=index < len(derived) and derived[index])
            held = best[g]
            if held is None or rank[verdict.verdict] > rank[held[0].verdict]:
                best[g] = (verdict, reading)
    _level_look(images, groups, best, recognizer, derived)
    _wider_look(images, groups, best, recognizer, derived)


#: A level line left unconfirmed whose reading holds at least ``WIDER_CHARS`` letters or digits,
#: and whose strokes run to an end of the detector's box (``Judged.cut``), is read once more in a
#: box ``WIDER_LINES`` times its height longer at each such end (``_wider_look``).
WIDER_CHARS = 3
WIDER_LINES = 3.0


def _wider_look(
    images: Sequence[npt.NDArray[np.uint8]],
    groups: Sequence[Sequence[Proposal]],
    best: list[tuple[Judged, Reading] | None],
    recognizer: TextRecognizer,
    derived: Sequence[bool],
) -> None:
    """Read the level lines still unconfirmed that read a few characters once more in a longer
    box (``best`` is updated in place): the detector's box may leave out the start or end of a
    line over colour or anatomy, and the part left reads as too little to be text (a grey clock
    over colour flow boxed from its third digit read "00::00" and was rejected; read longer,
    "10501:00").  Only an end the box cut through strokes is read on (elsewhere nothing was left
    out).  Where the longer box confirms the line, what it adds at each end is kept only out to
    the glyphs that add to the line's reading (``readout.read_out``): the longer box also holds the
    flow beside the clock."""
    for g, group, current, whole in _unconfirmed(groups, best):
        index = current[0].image
        held = current[0]
        if (index < len(derived) and derived[index]) or held.line is None or not any(held.cut):
            continue
        if current[1].alnum < WIDER_CHARS or whole.width < 2 * whole.height:
            continue
        image = images[index]
        box = held.box  # the region judged: the line padded
        reach = round(WIDER_LINES * box.height)
        x0 = max(0, box.x - reach) if held.cut[0] else box.x
        x1 = min(image.shape[1], box.x1 + reach) if held.cut[1] else box.x1
        longer = TextBox(x0, box.y, x1 - x0, box.height, box.score, box.core)
        reading = recognizer.read_boxes(image, [longer])[0]
        verdict = judge(image, Proposal(longer, index), reading, read_box=longer,
                        core=core_of([p.box for p in group]), derived=False)
        if verdict.verdict is not Verdict.CONFIRMED or verdict.line is None:
            continue
        best[g] = (_read_out(image, held, verdict, recognizer), reading)


def _read_out(image: npt.NDArray[np.uint8], held: Judged, found: Judged, recognizer: TextRecognizer) -> Judged:
    """``found`` (the longer box, confirmed) as the held line and, at each end, the part the longer
    line adds trimmed to the glyphs that add to the line's reading (``readout.read_out``), all on the
    held line's rows and padded by its glyph height; an end that gains nothing stays as cut as it was."""
    assert held.line is not None and found.line is not None
    line, longer, height = held.line, found.line, held.glyph_height
    read = TextBox(line.x, held.box.y, line.width, held.box.height, line.score)  # the rows as the box pads them
    kept: list[TextBox] = []
    gained = [False, False]
    for end, (x0, x1) in enumerate(((longer.x, line.x), (line.x1, longer.x1))):
        if x1 - x0 < 1:
            continue
        piece = read_out(read, TextBox(x0, line.y, x1 - x0, line.height, line.score), height, image, recognizer)
        if piece is not None:
            kept.append(TextBox(piece.x, line.y, piece.width, line.height, line.score))
            gained[end] = True
    body = union_box([line, *kept])
    cut = (held.cut[0] and not gained[0], held.cut[1] and not gained[1])
    box = pad_box(body, height, image.shape[0], image.shape[1], cut=cut)
    return dataclasses.replace(found, box=box, glyph_height=height, line=body, grown=(), cut=cut,
                               probed=(False, False))


def _level_look(
    images: Sequence[npt.NDArray[np.uint8]],
    groups: Sequence[Sequence[Proposal]],
    best: list[tuple[Judged, Reading] | None],
    recognizer: TextRecognizer,
    derived: Sequence[bool],
) -> None:
    """Read the regions still unconfirmed that hold one tilted line (``deskew.level_line``)
    once more, turned level (``best`` is updated in place): read as it lies, a line tilted by
    10-20 degrees climbs across the recognizer's rows and reads as little or nothing.  Only
    regions wider than high and not too high (``LEVEL_WIDER``, ``LEVEL_HIGH``) are tried."""
    for g, group, current, whole in _unconfirmed(groups, best):
        index = current[0].image
        image = images[index]
        if whole.width < LEVEL_WIDER * whole.height or whole.height > max(LEVEL_HIGH, min(image.shape[:2]) / 4):
            continue
        level = level_line(image, whole)
        if level is None:
            continue
        reading = recognizer.read_boxes(level.image, [level.box])[0]
        verdict = judge(image, Proposal(whole, index), reading, read_box=level.box,
                        core=core_of([p.box for p in group]), derived=index < len(derived) and derived[index])
        if verdict.verdict is Verdict.CONFIRMED:
            best[g] = (_with_band(verdict, level, group), reading)


def row_runs(boxes: Sequence[TextBox]) -> list[list[int]]:
    """Runs of ``boxes`` (indices, left to right) that stand side by side on one text row: each
    overlaps the next across at least ``ROW_OVERLAP`` of the lower one's height, neither is more
    than ``ROW_HEIGHTS`` times as high as the other, and the gap between them is at most
    ``ROW_GAP`` of the higher one's height (a space between words).  Upright boxes only (wider
    than high); runs of one box are left out."""
    order = sorted((i for i, b in enumerate(boxes) if b.width >= b.height), key=lambda i: boxes[i].x)
    runs: list[list[int]] = []
    for i in order:
        b = boxes[i]
        for run in runs:
            a = boxes[run[-1]]
            low, high = sorted((a.height, b.height))
            across = min(a.y1, b.y1) - max(a.y, b.y)
            if high <= ROW_HEIGHTS * low and across >= ROW_OVERLAP * low \
                    and -low <= b.x - a.x1 <= ROW_GAP * high:
                run.append(i)
                break
        else:
            runs.append([i])
    return [run for run in runs if len(run) > 1]


def _row_join(
    images: Sequence[npt.NDArray[np.uint8]],
    groups: Sequence[Sequence[Proposal]],
    best: list[tuple[Judged, Reading] | None],
    recognizer: TextRecognizer,
    derived: Sequence[bool],
) -> None:
    """Read as one line the unconfirmed regions of one search image that stand side by side on a
    text row (``row_runs``) where at least one read as uncertain text (``best`` is updated in
    place): the detector may box the words of a label one by one, and each word alone is too
    short to confirm ("RID." uncertain and "1" rejected, "RID 11" confirmed whole: a 40 px
    label running off a bright organ into the black around it).  A run confirmed whole replaces
    its regions; otherwise nothing changes."""
    pending: dict[int, list[int]] = {}
    for g, _group, current, _whole in _unconfirmed(groups, best):
        pending.setdefault(current[0].image, []).append(g)
    for index, members in pending.items():
        if index < len(derived) and derived[index]:
            continue
        boxes = [union_box([p.box for p in groups[g]]) for g in members]
        runs = [[members[i] for i in run] for run in row_runs(boxes)]
        runs = [run for run in runs if any(best[g][0].verdict is Verdict.UNCERTAIN for g in run)]  # type: ignore[index]
        if not runs:
            continue
        wholes = [union_box([p.box for g in run for p in groups[g]]) for run in runs]
        readings = recognizer.read_boxes(images[index], wholes)
        for run, whole, reading in zip(runs, wholes, readings, strict=True):
            verdict = judge(images[index], Proposal(whole, index), reading,
                            core=core_of([p.box for g in run for p in groups[g]]))
            if verdict.verdict is Verdict.CONFIRMED:
                best[run[0]] = (verdict, reading)
                for g in run[1:]:
                    best[g] = None


def _line_join(
    images: Sequence[npt.NDArray[np.uint8]],
    groups: Sequence[Sequence[Proposal]],
    best: list[tuple[Judged, Reading] | None],
    recognizer: TextRecognizer,
    derived: Sequence[bool],
) -> None:
    """Read a confirmed line once more with the unconfirmed regions of its search image that stand
    beside it on its text row (``row_runs``; ``best`` is updated in place): the detector may box
    the first word of a line apart from the rest, too short or too thin to confirm alone (the
    start of a faint mono label tilted by 6 degrees, "ACC#", boxed 13 px high beside the rest of
    the line 25 px high, read as uncertain and left out: tune seed 10816 case022).  The run is kept
    whole only where it confirms, reads more sure letters and digits than the line alone
    (``MIN_CONFIDENT``: anatomy beside a label adds none), and its region holds at least
    ``JOIN_KEEPS`` of the line's (the run's ink may be tightened to the first word alone)."""
    for index, image in enumerate(images):
        if index < len(derived) and derived[index]:
            continue
        members = [g for g, current in enumerate(best) if current is not None and current[0].image == index]
        lines = {g for g in members if best[g][0].verdict is Verdict.CONFIRMED}  # type: ignore[index]
        if not lines or len(lines) == len(members):
            continue
        boxes = [union_box([p.box for p in groups[g]]) for g in members]
        for run in row_runs(boxes):
            held = [members[i] for i in run if members[i] in lines]
            pieces = [members[i] for i in run if members[i] not in lines]
            if len(held) != 1 or not pieces or any(best[g] is None for g in (*held, *pieces)):
                continue
            proposals = [p for g in (*held, *pieces) for p in groups[g]]
            line, whole = union_box([p.box for p in groups[held[0]]]), union_box([p.box for p in proposals])
            alone, joined = recognizer.read_boxes(image, [line, whole])
            if _confident(joined) <= _confident(alone):
                continue
            verdict = judge(image, Proposal(whole, index), joined, core=core_of([p.box for p in proposals]))
            kept = best[held[0]][0].box  # type: ignore[index]
            inside = verdict.box.intersection(kept)
            if verdict.verdict is Verdict.CONFIRMED and inside is not None \
                    and inside.width * inside.height >= JOIN_KEEPS * kept.width * kept.height:
                best[held[0]] = (verdict, joined)
                for g in pieces:
                    best[g] = None


#: A confirmed line joined with the pieces beside it (``_line_join``) keeps at least this share of
#: its own region.
JOIN_KEEPS = 0.9


#: Regions on one text row (``row_runs``): overlapping across by this share of the lower one's
#: height, at most this many times as high as each other, and at most this share of the higher
#: one's height apart.
ROW_OVERLAP = 0.6
ROW_HEIGHTS = 2.5
ROW_GAP = 1.0


def _with_band(judged: Judged, level: LevelLine, group: Sequence[Proposal], spill: float | None = None) -> Judged:
    """``judged`` (a tilted line, confirmed) to be blacked out only in the band along the line
    (``level.strip``, padded like a box), not in its box's corners.  Unchanged unless the centre
    of every detector box of its ``group`` lies in the band (a second line in the same box was
    proposed too) and at most ``spill`` (default ``MAX_SPILL``) of the strokes in its box lie outside it.  Its
    growth along the box's rows is not along the line: the band spans the box instead."""
    band = level.strip.grown(max(MIN_PAD, math.ceil(PAD_SHARE * judged.glyph_height)))
    if level.spill > (MAX_SPILL if spill is None else spill) or not all(_centre_in(band, p.box) for p in group):
        return judged
    return dataclasses.replace(judged, grown=(), band=(judged.box, band))


def _centre_in(band: Strip, box: TextBox) -> bool:
    """The centre of ``box``'s core (the detector's surest part; the box without one) lies in ``band``."""
    x, y, w, h = box.core if box.core is not None else (box.x, box.y, box.width, box.height)
    cx, cy = int(x + w // 2), int(y + h // 2)
    return bool(band.mask(cx, cy, 1, 1)[0, 0])


def _tilted_bands(images: Sequence[npt.NDArray[np.uint8]], groups: Sequence[Sequence[Proposal]],
                  best: list[tuple[Judged, Reading] | None]) -> None:
    """Give each line confirmed as it lies whose glyphs are much lower than its box (a tilted
    line: ``confirm.TILTED``) the band along it (``_with_band``; ``best`` is updated in place).
    A line at least ``TILT_TRIED`` px high is measured too where its reading fills the box's height
    (a tilted line read in part counts few glyphs over its length), and banded only where it is
    tilted by ``SIZE_TILT`` degrees or more and at most ``SIZE_SPILL`` of its strokes lie outside
    the band."""
    for g, current in enumerate(best):
        if current is None or current[0].verdict is not Verdict.CONFIRMED or current[0].band is not None:
            continue
        judged = current[0]
        line = judged.line
        if line is None or line.width < LEVEL_WIDER * line.height:
            continue
        read_level = judged.glyph_height >= TILTED * line.height  # the reading's glyphs fill the box's height
        if read_level and line.height < TILT_TRIED:
            continue
        level = level_line(images[judged.image], line)
        if level is not None and (not read_level or abs(level.tilt) >= SIZE_TILT):
            best[g] = (_with_band(judged, level, groups[g], SIZE_SPILL if read_level else MAX_SPILL), current[1])


def _unconfirmed(
    groups: Sequence[Sequence[Proposal]], best: list[tuple[Judged, Reading] | None]
) -> Iterator[tuple[int, Sequence[Proposal], tuple[Judged, Reading], TextBox]]:
    """(index, group, best judgement so far, union of its boxes) of each group judged and not
    confirmed, as the second looks take them (``best`` may change while this runs)."""
    for g, group in enumerate(groups):
        current = best[g]
        if current is None or current[0].verdict is Verdict.CONFIRMED:
            continue
        yield g, group, current, union_box([p.box for p in group])


#: A region is tried turned level when it is at least this many times as wide as high (a line
#: tilted by up to 30 degrees is), and at most a quarter of the image's shorter side or
#: ``LEVEL_HIGH`` pixels high (a 32 px label tilted by 20 degrees on a 120-row ultrasound is 98).
LEVEL_WIDER = 1.2
LEVEL_HIGH = 128
#: A confirmed line this many px high or more is measured for tilt whatever its reading says
#: (``_tilted_bands``), and blacked out in its band only where it is tilted by ``SIZE_TILT``
#: degrees or more and at most ``SIZE_SPILL`` of its strokes lie outside the band: a 17 px mono
#: label tilted by 13 degrees over skin, measured 2 degrees off, left 41 % of its strokes outside
#: (tune seed 10808, case049); a 21 px label tilted by 5 degrees measured 10 (10810 case020).
TILT_TRIED = 24
SIZE_TILT = 12
SIZE_SPILL = 0.10
#: A tilted line is blacked out only in the band along it when at most this share of the strokes
#: in its box lie outside the band (anatomy or flow beside a line: up to a third; a 14 px dot-matrix
#: label tilted by 14 degrees, measured at 8, left 42 % of its own strokes outside: seed 10891 case033).
MAX_SPILL = 0.35


def _confident(reading: Reading) -> int:
    return sum(1 for ch, conf in zip(reading.text, reading.confidences, strict=True)
               if conf >= MIN_CONFIDENT and ch.isascii() and ch.isalnum())


def _vivid_channel(image: npt.NDArray[np.uint8], box: TextBox) -> int:
    """The colour channel whose values spread most inside ``box`` (2nd to 98th percentile)."""
    crop = image[max(0, box.y) : box.y1, max(0, box.x) : box.x1].reshape(-1, image.shape[2])
    if crop.size == 0:
        return 0
    spread = np.percentile(crop, 98, axis=0) - np.percentile(crop, 2, axis=0)
    return int(np.argmax(spread))
