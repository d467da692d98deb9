"""The per-file boundary: one input's bytes plus an opaque id -> FileResult.  Fail closed.

Every input ends as exactly one result (written, skipped, or quarantined with its reason), and
nothing partially de-identified is ever written to the output.  Where the bytes come from is
not known here: ``walk.load_input`` reads a file or a zip member, the network node a spool file
(``net/adapter.py``); both hand over a :class:`~dicom_deid.walk.InputBytes`.  ``pipeline.py``
(a batch) and ``workers.py`` (where the work runs) call :func:`process_input`.

The per-file ``except Exception`` lives here (STYLE: errors): an exception an input causes
becomes its quarantine reason (``internal_error`` when it is not ours), logged without values.
"""

from __future__ import annotations

import logging
import os
import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dicom_deid.deidentify import Deidentified, Engine, deidentify
from dicom_deid.errors import DeidError, EncapsulatedDocumentError, NotDicomError, QuarantineReason
from dicom_deid.links import Link, LinkKind
from dicom_deid.manifest import (
    EncodedRow,
    Encoder,
    ManifestRecord,
    Outcome,
    encode_fields,
    with_seconds,
)
from dicom_deid.plan import format_path
from dicom_deid.read import DicomDirFile, describe_decode_failure, keyword_value, parse_instance
from dicom_deid.walk import InputBytes
from dicom_deid.write import (
    FreeSpace,
    WriteError,
    check_free_space,
    encode_parts,
    output_relpath,
    quarantine,
    write_output,
)

if TYPE_CHECKING:
    from dicom_deid.pixels.stage import PixelOutcome

logger = logging.getLogger(__name__)

PixelSummary = dict[str, bool | int | str | list[str] | list[dict[str, int | str | list[int] | None]]]


@dataclass
class FileResult:
    """What one input became; ``links`` go to the sealed mapping only."""

    record: ManifestRecord
    links: list[Link] = field(default_factory=list)
    message: str | None = None  # input-side one-line message for quarantines
    plan_rows: list[tuple[str, str, str]] = field(default_factory=list)  # dry-run: (path, code, rule)
    fatal: str | None = None  # the environment failed (disk full, quarantine unwritable): stop the run
    row: EncodedRow | None = field(default=None, repr=False)  # ``record``'s line but for its seconds, if known

    @property
    def outcome(self) -> Outcome:
        return Outcome(self.record.outcome)

    @property
    def reason(self) -> QuarantineReason | None:
        return QuarantineReason(self.record.reason) if self.record.reason else None


def _pixel_summary(outcome: PixelOutcome | None) -> PixelSummary | None:
    """The manifest's pixel entry, as the pixel stage describes its outcome: how the instance was
    examined, boxes (coordinates, frames, source), counts and review flags; never text or PHI."""
    return None if outcome is None else outcome.summary()


def process_input(item: InputBytes, *, engine: Engine, output: Path, quarantine_dir: Path,
                  dry_run: bool = False, replace: bool = False, keep_free: int = 0,
                  space: FreeSpace | None = None, sync_quarantine: bool = True) -> FileResult:
    """Handle one input completely.  Never raises: the fail-closed boundary is here.

    Every exception an input causes (reading, routing headers, planning, pixels, writing, the
    manifest row) becomes its quarantine reason.  The output file is written last, after its
    manifest row is built and checked, so an input is either written with its row or
    quarantined with its row.  A failure of the environment rather than of the input (disk
    full, an unwritable quarantine) also sets ``fatal``: the run stops, and a resume finishes.
    ``space``: the run's view of OUTPUT's free space (one statvfs for many files); without it,
    ``keep_free`` is checked against the file system before each file.  ``sync_quarantine``:
    a quarantine copy is fsynced here; False where the run makes the quarantine folder durable
    once per batch, before the rows (``record.Recorder``).
    """
    started = time.perf_counter()
    token = engine.remapper.keyed_id(item.name)
    size = 0

    def quarantined(reason: QuarantineReason, message: str, fatal: str | None = None) -> FileResult:
        record = ManifestRecord(item.ordinal, token, Outcome.QUARANTINED.value, size, reason=reason.value,
                                seconds=round(time.perf_counter() - started, 6))
        result = FileResult(record, [Link(LinkKind.SOURCE_PATH, item.name, f"quarantine:{token}")], message,
                            fatal=fatal)
        if not dry_run:
            try:
                quarantine(quarantine_dir, f"{item.ordinal:08d}-{token}", item.data, reason=reason,
                           message=message, source=item.name, input_id=token, sync=sync_quarantine)
            except WriteError as exc:
                result.fatal = result.fatal or f"cannot write to the quarantine folder: {exc}"
        return result

    try:
        if item.error is not None:
            raise item.error
        if item.data is None:  # pragma: no cover - an InputBytes without bytes carries its error
            raise DeidError("no bytes to read", path=item.display)
        instance = parse_instance(item.data, where=item.display, fast=not dry_run,
                                  drop_private=not dry_run and engine.drops_private, memo=engine.decode_memo)
        size = instance.size
        ds = instance.dataset
        result: Deidentified = deidentify(ds, engine, data=None if dry_run else item.data, dropped=instance.dropped)
        copies = result.copies.spliced if result.copies is not None else None
        copies = copies or None
        rel = output_relpath(result.patient, result.study_uid, result.series_uid, result.sop_uid)
        counts, changes = result.plan.tally()
        record = ManifestRecord(
            ordinal=item.ordinal, input_id=token,
            outcome=(Outcome.PLANNED if dry_run else Outcome.WRITTEN).value,
            size=size, output=rel, sop_class_uid=str(keyword_value(ds, "SOPClassUID", "") or ""),
            modality=str(keyword_value(ds, "Modality", "") or "") or None,
            actions=dict(sorted(counts.items())), changes=changes,
            pixels=_pixel_summary(result.pixels), document=result.document,
            stream_metadata=result.stream_metadata,
            encoder=None if dry_run else (Encoder.BYTES if copies else Encoder.PYDICOM).value,
        )
        row = encode_fields(record)  # a field the manifest cannot hold fails this input, not the run
        links = [*result.links, Link(LinkKind.SOURCE_PATH, item.name, rel, result.patient,
                                     result.study_uid, result.series_uid)]
        rows: list[tuple[str, str, str]] = []
        if dry_run:
            rows = [(_generic_path(format_path(a.path)), a.code.value, a.rule) for a in result.plan]
        else:
            parts = encode_parts(result.dataset, result.dataset.file_meta, copies, memo=engine.encode_memo)
            if space is not None:
                space.check(sum(map(len, parts)))
            else:
                check_free_space(output, keep_free, sum(map(len, parts)))
            write_output(f"{os.fspath(output)}/{rel}", parts, replace=replace)  # a str: no pathlib parsing
        record = with_seconds(record, round(time.perf_counter() - started, 6))
        return FileResult(record, links, plan_rows=rows, row=row)  # ``row``: the same but for the seconds
    except DicomDirFile:
        return FileResult(ManifestRecord(item.ordinal, token, Outcome.SKIPPED_DICOMDIR.value))
    except NotDicomError as exc:
        return FileResult(ManifestRecord(item.ordinal, token, Outcome.SKIPPED_NOT_DICOM.value,
                                         reason=exc.reason.value), message=str(exc))
    except DeidError as exc:
        if exc.path is None:
            exc.path = item.display
            exc.args = (f"{item.display}: {exc.message}",)
        if isinstance(exc, EncapsulatedDocumentError) and exc.drop:  # --documents drop: nothing kept
            return FileResult(ManifestRecord(item.ordinal, token, Outcome.SKIPPED_DOCUMENT.value, size,
                                             reason=exc.reason.value), message=str(exc))
        # an output that cannot be written (disk full, I/O error) is the environment's fault: stop the run
        return quarantined(exc.reason, str(exc), fatal=str(exc) if isinstance(exc, WriteError) else None)
    except Exception as exc:  # noqa: BLE001 - the one per-file boundary (STYLE: errors)
        corrupt = describe_decode_failure(exc)  # pydicom decoding a malformed element on access
        if corrupt is not None:
            return quarantined(QuarantineReason.UNREADABLE, f"{item.display}: corrupt DICOM file: {corrupt}")
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else "?"
        logger.error("input #%d: internal error %s at %s", item.ordinal, exc.__class__.__name__, where)
        return quarantined(QuarantineReason.INTERNAL_ERROR,
                           f"{item.display}: internal error ({exc.__class__.__name__} at {where})")


def crashed_input(item: InputBytes, engine: Engine, quarantine_dir: Path) -> FileResult:
    """The record of an input whose processing killed its worker process twice."""
    token = engine.remapper.keyed_id(item.name)
    message = f"{item.display}: worker process died while handling this file (crash or out of memory)"
    record = ManifestRecord(item.ordinal, token, Outcome.QUARANTINED.value,
                            reason=QuarantineReason.WORKER_CRASHED.value)
    result = FileResult(record, [Link(LinkKind.SOURCE_PATH, item.name, f"quarantine:{token}")], message)
    try:
        quarantine(quarantine_dir, f"{item.ordinal:08d}-{token}", item.data,
                   reason=QuarantineReason.WORKER_CRASHED, message=message, source=item.name, input_id=token)
    except WriteError as exc:
        result.fatal = f"cannot write to the quarantine folder: {exc}"
    return result


def _generic_path(text: str) -> str:
    return re.sub(r"\[\d+\]", "[*]", text)


__all__ = ["FileResult", "crashed_input", "process_input"]
