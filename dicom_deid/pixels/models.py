"""The networks of the ``rapidocr-onnxruntime`` wheel: where they lie, and one CPU session each.

Knows no DICOM.  Nothing is downloaded: the model files are located inside the installed wheel
(without importing its package, whose ``__init__`` pulls in modules we do not need), and each is
simplified (``graph.py``: exact rewrites of the exported graph) and run through ``onnxruntime``
on the CPU with the same settings (``intra_op`` threads as asked, one
``inter_op`` thread, every graph optimisation).  :class:`LazySession` creates the session on first
use, once per process, under a lock.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

from dicom_deid.errors import OcrUnavailable

PACKAGE = "rapidocr_onnxruntime"
DETECTION = Path("models") / "ch_PP-OCRv4_det_infer.onnx"
RECOGNITION = Path("models") / "ch_PP-OCRv4_rec_infer.onnx"


def find_model(relative: Path, purpose: str) -> Path:
    """Path of ``relative`` inside the installed wheel; :class:`OcrUnavailable` when absent."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    raise OcrUnavailable(
        f"text {purpose} model not found: install 'dicom-deid[ocr]' "
        f"(rapidocr-onnxruntime, which ships {relative.name})"
    )


def load_session(path: Path, *, threads: int, purpose: str) -> Any:
    """An onnxruntime CPU session for the model at ``path``."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise OcrUnavailable("onnxruntime is missing: install 'dicom-deid[ocr]' (onnxruntime)") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No memory pattern: with one, the second run of each new input shape plans one block for all
    # of that shape's buffers and the arena grows by it, page by page (4.2 s of system time for a
    # 1536 x 2048 detector input, against 0.57 s for the network itself); the detector and the
    # recognizer see a new shape on most images.  The arena alone reuses what earlier runs took.
    options.enable_mem_pattern = False
    try:
        import onnx  # noqa: F401  (graph.simplified_bytes reads and rewrites the model with it)
    except ImportError as exc:
        raise OcrUnavailable("onnx is missing: install 'dicom-deid[ocr]' (onnx)") from exc
    from dicom_deid.pixels.graph import simplified_bytes

    try:
        model = simplified_bytes(path)  # exact rewrites onnxruntime does not make (graph.py)
        return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnx and onnxruntime raise their own Fail/InvalidGraph/Validation types
        raise OcrUnavailable(f"text {purpose} model cannot be loaded: {exc}") from exc


class LazySession:
    """One session of a wheel's model, created on first :meth:`get` (thread-safe)."""

    def __init__(self, relative: Path, purpose: str, *, threads: int = 1, model_path: Path | None = None) -> None:
        self.relative = relative
        self.purpose = purpose
        self.threads = threads
        self.model_path = model_path
        self._session: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._session is None:
                path = self.model_path or find_model(self.relative, self.purpose)
                self._session = load_session(path, threads=self.threads, purpose=self.purpose)
            return self._session

    def run(self, blob: Any) -> Any:
        """The first output of the network for the input ``blob``."""
        session = self.get()
        try:
            return session.run(None, {session.get_inputs()[0].name: blob})[0]
        except Exception as exc:  # onnxruntime raises its own RuntimeException types
            raise OcrUnavailable(f"text {self.purpose} failed: {type(exc).__name__}") from exc


__all__ = ["DETECTION", "RECOGNITION", "LazySession", "find_model", "load_session"]
