"""Sealed mapping file: every original-to-pseudonym link, encrypted to the custodian and signed.

This is the only module that sees plaintext links.  It never logs them and
never writes inside the output folder.  The pipeline holds only the custodian's
*public* key, so the pipeline machine, the output folder and anyone holding a
copy of the file learn nothing without the custodian's private key.

File format, version 1 (``.ddmap``)::

    file      = MAGIC record*
    record    = kind (1 byte) | body length (u32 BE) | body
    body      = meta length (u32 BE) | meta (UTF-8 JSON) | blob | Ed25519 signature (64 bytes)
    signature over DOMAIN | kind | meta length | meta | SHA-256(blob)

    one part:  MAGIC H S* T        no T: "incomplete run" (crash), finished segments readable
    combined:  MAGIC I (H S* T)+   I lists each part's header and trailer digest

* ``H`` part header. meta: run_id, part, created, recipient (custodian key
  fingerprint), ephemeral X25519 public key, signer Ed25519 public key.  blob:
  the run info (profile, options) sealed with nonce 0.
* ``S`` segment. meta: run_id, part, seq (1, 2, ...), links, header (digest of
  the H record), prev (digest of the part's previous record): a signed hash
  chain, so removal, insertion, duplication and reordering break it.  blob:
  AES-256-GCM(zlib(JSON links)), nonce = seq, associated data = kind + meta.
* ``T`` trailer. meta: segment and link counts, digest of the last record.
* ``I`` index, written by :func:`combine_parts` (no decryption) and signed by
  the combining pipeline key: the exact list of parts, so dropping a part is
  detected too.

The content key of each part is HKDF-SHA256 over X25519(fresh ephemeral key,
custodian key); record digests are SHA-256 of the whole record bytes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dicom_deid.errors import SealError
from dicom_deid.seal.format import DEFAULT_SEGMENT_LINKS, FORMAT_VERSION, MAGIC, MAPPING_SUFFIX

if TYPE_CHECKING:
    from dicom_deid.seal.combine import combine_parts, finish_with_parts
    from dicom_deid.seal.reader import (
        LookupHit,
        MappingView,
        PartReport,
        RunSummary,
        VerifyReport,
        export_csv,
        open_mapping,
        verify_mapping,
    )
    from dicom_deid.seal.writer import (
        MappingWriter,
        PartSpec,
        PendingMapping,
        check_mapping_location,
        default_mapping_path,
        parts_dir_for,
        prepare_run_mapping,
    )

#: name -> the submodule that defines it, imported on first use (PEP 562): a run writes a mapping
#: and never reads, verifies or combines one, so its start does not import the reader (issue 16)
_LAZY = {
    **dict.fromkeys(("combine_parts", "finish_with_parts"), "combine"),
    **dict.fromkeys(("LookupHit", "MappingView", "PartReport", "RunSummary", "VerifyReport", "export_csv",
                     "open_mapping", "verify_mapping"), "reader"),
    **dict.fromkeys(("MappingWriter", "PartSpec", "PendingMapping", "check_mapping_location",
                     "default_mapping_path", "parts_dir_for", "prepare_run_mapping"), "writer"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # looked up once
    return value


__all__ = [
    "DEFAULT_SEGMENT_LINKS",
    "FORMAT_VERSION",
    "MAGIC",
    "MAPPING_SUFFIX",
    "LookupHit",
    "MappingView",
    "MappingWriter",
    "PartReport",
    "PartSpec",
    "PendingMapping",
    "RunSummary",
    "SealError",
    "VerifyReport",
    "check_mapping_location",
    "combine_parts",
    "default_mapping_path",
    "export_csv",
    "finish_with_parts",
    "open_mapping",
    "parts_dir_for",
    "prepare_run_mapping",
    "verify_mapping",
]
