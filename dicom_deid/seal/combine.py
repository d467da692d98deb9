"""Joining part files of one run into a combined file behind a signed index (no decryption)."""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import BinaryIO

from dicom_deid.custodian import SignerPublicKey, SigningKey
from dicom_deid.errors import ConfigError, SealError
from dicom_deid.seal.files import _write_atomic
from dicom_deid.seal.format import (
    _INDEX,
    MAGIC,
    MAPPING_SUFFIX,
    _b64,
    _encode_record,
    _meta_bytes,
    _now,
)
from dicom_deid.seal.reader import _incomplete
from dicom_deid.seal.scan import _scan
from dicom_deid.seal.writer import (
    MappingWriter,
    PendingMapping,
    check_mapping_location,
    parts_dir_for,
)


def combine_parts(
    parts: Sequence[Path],
    out: Path,
    *,
    signer: SigningKey,
    trusted_signers: Collection[SignerPublicKey] | None = None,
    output_dir: Path | None = None,
) -> None:
    """Join complete part files of one run into ``out`` without decrypting anything.

    The parts' records are copied byte for byte (their signatures and chains
    survive) behind an index record, signed by ``signer``, that lists every
    part's header and trailer digest.  ``out`` is created 0600 atomically.
    """
    if not parts:
        raise ConfigError("no part files to combine")
    out = Path(out)
    if output_dir is not None:
        check_mapping_location(out, output_dir)
    scans = [_scan(Path(p), trusted_signers) for p in parts]
    for scan in scans:
        problem = _incomplete(scan)
        if problem:
            raise SealError(problem, path=scan.path)
        if scan.index is not None:
            raise SealError(
                "already a combined file; combine the original part files", path=scan.path
            )
    run_ids = {s.parts[0].run_id for s in scans}
    recipients = {s.parts[0].recipient for s in scans}
    names = [s.parts[0].name for s in scans]
    if len(run_ids) != 1 or len(recipients) != 1:
        raise SealError(
            "part files belong to different runs or custodian keys; combine one run at a time"
        )
    if len(set(names)) != len(names):
        raise SealError("two part files have the same part name (a part given twice?)")
    meta = {
        "run_id": run_ids.pop(),
        "recipient": recipients.pop(),
        "signer": _b64(signer.public.raw),
        "created": _now(),
        "parts": [
            {
                "part": s.parts[0].name,
                "header": s.parts[0].header.digest,
                "trailer": s.parts[0].trailer.digest if s.parts[0].trailer else None,
            }
            for s in scans
        ],
    }

    def fill(dst: BinaryIO) -> None:
        dst.write(MAGIC + _encode_record(_INDEX, _meta_bytes(meta), b"", signer))
        for scan in scans:
            with open(scan.path, "rb") as src:
                src.seek(len(MAGIC))
                while chunk := src.read(1 << 20):
                    dst.write(chunk)

    # a part that changed while being copied fails here, not at the custodian's
    _write_atomic(out, fill, check=lambda tmp: _scan(tmp, None))


def finish_with_parts(main: MappingWriter | PendingMapping) -> None:
    """Close ``main`` and combine it with the workers' complete parts into ``main.path``."""
    parts_dir = parts_dir_for(main.path)
    parts = sorted(parts_dir.glob(f"*{MAPPING_SUFFIX}")) if parts_dir.exists() else []
    if parts and isinstance(main, PendingMapping):
        main.materialize()  # the index of the combined file needs the main part
    main.close()
    if not parts:
        return
    combined = main.path.with_name(f".{main.path.name}.combined")
    combined.unlink(missing_ok=True)
    combine_parts([main.path, *parts], combined, signer=main._signer)
    os.replace(combined, main.path)
    for p in parts:
        p.unlink()
    parts_dir.rmdir()
