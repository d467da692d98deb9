"""The engine's flags, shared by ``run``, ``serve`` and ``pull``: flags -> one ``Deidentifier``.

A module of its own so that ``cli`` and ``cli_net`` both import it and neither imports the other.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from dicom_deid.api import Deidentifier
from dicom_deid.profiles import Profile
from dicom_deid.subjects import SubjectMap


def add_subject_flags(p: argparse.ArgumentParser) -> None:
    """``--subject-map`` and ``--unmapped``: the same flags on run, serve, pull (and verify, report)."""
    p.add_argument("--subject-map", type=Path, metavar="FILE.csv",
                   help="the team's table PatientID -> SubjectID [, PatientName, DateOffsetDays] (.csv with a header "
                        "row, or .toml): its values replace the keyed pseudonyms (default: the profile's [subjects])")
    p.add_argument("--unmapped", choices=("error", "keyed"),
                   help="a patient the subject map does not list: error (quarantined, the default) or keyed "
                        "(the keyed pseudonym)")


def make_deidentifier(*, profile: str | Profile, key_file: Path | None, pixels: str | None,
                      subject_map: Path | SubjectMap | None, unmapped: str | None, options: Sequence[str] = (),
                      overrides: Sequence[str] = (), documents: str | None = None,
                      say: Callable[[str], None] | None = None,
                      warn: Callable[[str], None] | None = None) -> Deidentifier:
    """The Deidentifier of run, serve and pull (one engine, built from the same flags).  ``say``
    tells of a new key, ``warn`` of each engine warning (default: stderr)."""
    import warnings as _warnings

    with _warnings.catch_warnings():  # told below, once, in the CLI's own words
        _warnings.simplefilter("ignore")
        deid = Deidentifier(profile, key=key_file, subject_map=subject_map, pixels=pixels, unmapped=unmapped,
                            options=options, overrides=overrides, documents=documents)
    if deid.key_created:
        (say or _stderr(""))(f"created secret key {deid.key_path} (mode 0600); keep it to get the same pseudonyms "
                             "in later runs")
    for note in deid.warnings:
        (warn or _stderr("warning: "))(note)
    return deid


def _stderr(kind: str) -> Callable[[str], None]:
    return lambda message: print(f"dicom-deid: {kind}{message}", file=sys.stderr)


__all__ = ["add_subject_flags", "make_deidentifier"]
