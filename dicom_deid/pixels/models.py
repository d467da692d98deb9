"""The networks of the ``rapidocr-onnxruntime`` wheel: where they lie, and how each is run.

Knows no DICOM.  Nothing is downloaded: the model files are located inside the installed wheel
(without importing its package, whose ``__init__`` pulls in modules we do not need), and each is
read from its ``.onnx`` file and run by OpenVINO on the CPU with the same settings: ``threads``
inference threads as asked, one stream, latency first, and **f32 arithmetic** (:data:`PRECISION`).

Why OpenVINO, why f32: on one core of an AVX-512 Xeon it runs the DBNet detector in ~230 ms per
megapixel of network input against ~400 ms for onnxruntime (``scripts/profile_burned_in.py``, public
tune split: 30-40 % less CPU per image in all), with outputs equal to onnxruntime's within 2e-7
(detector) and 1e-5 (recognizer logits).  The recognizer is ~1.8x faster on an input width it has
run before and ~10 % slower on a new one (each new shape is prepared once); one runtime for both
networks is kept for that small cost.  OpenVINO's own default on CPUs with bf16 units (AVX512_BF16,
AMX) is bf16, faster still but it rounds activations: measured, it changed judged regions on every
tune image (``scripts/profile_burned_in.py --compare``).  f32 is asked for explicitly, so findings
do not depend on whether the CPU has bf16 units.

:class:`LazySession` compiles the model on first use, once per process, under a lock; each thread
that runs it gets its own inference request (one request must not be run by two threads at once).
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
#: Arithmetic the networks run in (OpenVINO ``INFERENCE_PRECISION_HINT``): never the CPU's default.
PRECISION = "f32"
DEVICE = "CPU"


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


def _openvino() -> Any:
    try:
        import openvino
    except ImportError as exc:
        raise OcrUnavailable("OpenVINO is missing: install 'dicom-deid[ocr]' (openvino)") from exc
    return openvino


def session_config(threads: int) -> dict[str, Any]:
    """The OpenVINO CPU settings every network is compiled with."""
    return {
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": PRECISION,
    }


def load_session(path: Path, *, threads: int, purpose: str) -> tuple[Any, Any]:
    """The model at ``path`` as read (``openvino.Model``: its metadata) and compiled by OpenVINO
    for the CPU (``openvino.CompiledModel``)."""
    ov = _openvino()
    try:
        core = ov.Core()
        model = core.read_model(str(path))
        return model, core.compile_model(model, DEVICE, session_config(threads))
    except Exception as exc:  # OpenVINO raises its own RuntimeError/GeneralFailure types
        raise OcrUnavailable(f"text {purpose} model cannot be loaded: {exc}") from exc


class LazySession:
    """One compiled network of a wheel's model, created on first :meth:`get` (thread-safe)."""

    def __init__(self, relative: Path, purpose: str, *, threads: int = 1, model_path: Path | None = None) -> None:
        self.relative = relative
        self.purpose = purpose
        self.threads = threads
        self.model_path = model_path
        self._session: Any = None
        self._model: Any = None
        self._lock = threading.Lock()
        self._requests = threading.local()

    def get(self) -> Any:
        """The compiled network (``openvino.CompiledModel``)."""
        with self._lock:
            if self._session is None:
                path = self.model_path or find_model(self.relative, self.purpose)
                self._model, self._session = load_session(path, threads=self.threads, purpose=self.purpose)
            return self._session

    def precision(self) -> str:
        """The arithmetic the compiled network runs in, as the runtime reports it (``"f32"``)."""
        return str(self.get().get_property("INFERENCE_PRECISION_HINT").get_type_name())

    def layer_precisions(self) -> frozenset[str]:
        """The element types the compiled graph's layers run in (``{"f32", "i32"}``: no ``bf16``)."""
        graph = self.get().get_runtime_model()
        return frozenset(str(op.get_rt_info()["runtimePrecision"].astype(str)) for op in graph.get_ordered_ops())

    def metadata(self, key: str) -> str:
        """A value of the model file's metadata (``""`` when it has none under ``key``)."""
        self.get()
        path = ["framework", key]  # where OpenVINO's ONNX reader keeps the file's metadata_props
        return str(self._model.get_rt_info(path).astype(str)) if self._model.has_rt_info(path) else ""

    def run(self, blob: Any) -> Any:
        """The first output of the network for the input ``blob`` (a float32 NCHW array)."""
        compiled = self.get()
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = compiled.create_infer_request()
        try:
            # the input is only read (not copied first); the output is a copy, the request is reused
            return request.infer({0: blob}, share_inputs=True)[0]
        except Exception as exc:  # OpenVINO raises its own RuntimeError types
            raise OcrUnavailable(f"text {self.purpose} failed: {type(exc).__name__}") from exc


__all__ = ["DETECTION", "PRECISION", "RECOGNITION", "LazySession", "find_model", "load_session", "session_config"]
