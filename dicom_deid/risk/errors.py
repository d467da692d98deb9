"""Errors of the risk stage (subclasses of dicom-deid's tree, so ``cli.main`` maps them)."""

from __future__ import annotations

from typing import Any

from dicom_deid.errors import DeidError


class RiskError(DeidError):
    """k-anonymity cannot be reached or applied, or the risk stage cannot run."""


def load_pycanon() -> Any:
    """``pycanon.anonymity``, or a RiskError saying how to install it."""
    try:
        from pycanon import anonymity
    except ImportError:
        raise RiskError("the risk stage needs pycanon: run `make setup`, or pip install 'dicom-deid[risk]' "
                        "then pip install --no-deps pycanon==1.3.6") from None
    return anonymity


__all__ = ["RiskError", "load_pycanon"]
