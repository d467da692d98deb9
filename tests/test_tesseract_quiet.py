"""Leptonica's own complaints stay off the user's terminal (dicom_deid/tesseract.py).

Leptonica (under Tesseract) prints "Error in <function>: ..." straight to file descriptor 2;
verify printed two such lines on fo-dicom's 3340×2670 test image VL5_J2KI.dcm.  The test
makes Leptonica complain on purpose (a NULL box) in a child process and reads its stderr.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from dicom_deid.tesseract import find_tessdata

CHILD = textwrap.dedent(
    """
    import ctypes, sys
    import tesserocr
    from dicom_deid.tesseract import leptonica_libraries, quiet_leptonica
    libraries = leptonica_libraries(tesserocr.__file__) or ["liblept.so.5"]
    lept = ctypes.CDLL(str(libraries[0]))
    lept.boxClipToRectangle.restype = ctypes.c_void_p
    if sys.argv[1] == "quiet":
        assert quiet_leptonica()
    lept.boxClipToRectangle(None, 10, 10)   # Leptonica: "box not defined"
    sys.stderr.flush()
    """
)


def _stderr(mode: str) -> str:
    done = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True)
    return done.stderr


def test_leptonica_complains_without_the_fix() -> None:
    assert "Error in boxClipToRectangle" in _stderr("loud")


def test_quiet_leptonica_silences_it() -> None:
    assert "boxClipToRectangle" not in _stderr("quiet")


def test_verify_word_reader_is_quiet_once_opened() -> None:
    """verify's reader silences Leptonica when it opens Tesseract (the fix at its place of use)."""
    child = textwrap.dedent(
        """
        import ctypes
        import tesserocr
        from dicom_deid.tesseract import leptonica_libraries
        from dicom_deid.verify.ocr import _WordReader
        _WordReader()
        lept = ctypes.CDLL(str((leptonica_libraries(tesserocr.__file__) or ["liblept.so.5"])[0]))
        lept.boxClipToRectangle.restype = ctypes.c_void_p
        lept.boxClipToRectangle(None, 10, 10)
        """
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    assert "boxClipToRectangle" not in done.stderr


def test_find_tessdata_names_a_folder_with_english() -> None:
    found = find_tessdata()
    assert found is not None
    assert (Path(found) / "eng.traineddata").is_file()
