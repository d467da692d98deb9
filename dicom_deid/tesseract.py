"""Tesseract's surroundings, shared by the pixel stage's reader and verify's word reader.

- :func:`find_tessdata`: the language folder (``$TESSDATA_PREFIX`` or the Debian locations);
- :func:`quiet_leptonica`: Leptonica, the image library under Tesseract, prints its internal
  complaints ("Error in boxClipToRectangle: box outside rectangle", seen on fo-dicom's 3340×2670
  VL5_J2KI.dcm) straight to file descriptor 2, past Python's logging.  They are not errors of ours and
  the user can do nothing about them, so the library's own message threshold is raised to
  "none" in the Leptonica that ``tesserocr`` loaded.  Nothing else is changed: Tesseract's
  results, and errors raised to Python, are the same.
"""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)

#: Leptonica's ``L_SEVERITY_NONE`` (environ.h): no message is printed.
SEVERITY_NONE = 6


def find_tessdata() -> str | None:
    """The first folder with ``eng.traineddata``: ``$TESSDATA_PREFIX``, then the Debian ones."""
    env = os.environ.get("TESSDATA_PREFIX")
    for candidate in ([env] if env else []) + list(TESSDATA_DIRS):
        if candidate and (Path(candidate) / "eng.traineddata").is_file():
            return candidate
    return None


def leptonica_libraries(package_file: str) -> list[Path]:
    """The Leptonica libraries a binary wheel bundles beside its package (``<name>.libs``)."""
    package_dir = Path(package_file).resolve().parent
    bundled = package_dir.parent / f"{package_dir.name}.libs"
    return sorted(bundled.glob("libleptonica*.so*")) + sorted(bundled.glob("liblept*.so*"))


def quiet_leptonica() -> bool:
    """Silence Leptonica's messages in the copy ``tesserocr`` uses; True when it was found.

    A ``tesserocr`` built against the system Leptonica shares the system library; a wheel
    bundles its own (renamed) copy, which is the one that prints.  Both are tried."""
    try:
        import tesserocr
    except ImportError:
        return False
    candidates = [str(p) for p in leptonica_libraries(tesserocr.__file__)]
    candidates += ["liblept.so.5", "libleptonica.so.6"]
    done = False
    for name in candidates:
        try:
            library = ctypes.CDLL(name)
            library.setMsgSeverity.argtypes = [ctypes.c_int]
            library.setMsgSeverity.restype = ctypes.c_int
        except (OSError, AttributeError):
            continue
        library.setMsgSeverity(SEVERITY_NONE)
        done = True
    if not done:
        logger.debug("Leptonica not found beside tesserocr: its messages stay on stderr")
    return done


__all__ = ["SEVERITY_NONE", "TESSDATA_DIRS", "find_tessdata", "leptonica_libraries", "quiet_leptonica"]
