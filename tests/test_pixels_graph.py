"""pixels/graph.py: the rewrites of the wheel's networks change no output (beyond float rounding)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pydicom
import pytest
from onnx import TensorProto, helper, numpy_helper
from pydicom.data import get_testdata_file

from dicom_deid.pixels.graph import fold_conv_affine, fuse_hardswish
from dicom_deid.pixels.models import DETECTION, RECOGNITION, find_model


def _run(model: onnx.ModelProto, blob: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: blob})[0])


def _image_blob(height: int, width: int) -> np.ndarray:
    """A real image (pydicom's MR_small, text-free anatomy) scaled as the detector feeds it."""
    import cv2

    pixels = pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array.astype(np.float32)
    grey = cv2.resize((pixels - pixels.min()) / np.ptp(pixels) * 255.0, (width, height))
    grey[10:30, 10 : width - 10] = 255.0  # a bright bar, so the map holds a strong response too
    scaled = grey / 127.5 - 1.0
    return np.ascontiguousarray(np.broadcast_to(scaled, (1, 3, height, width)), dtype=np.float32)


@pytest.mark.parametrize(("relative", "shape"), [(DETECTION, (320, 480)), (RECOGNITION, (48, 320))], ids=["det", "rec"])
def test_the_wheels_networks_give_the_same_output_after_the_rewrites(relative, shape) -> None:
    original = onnx.load(str(find_model(relative, "test")))
    rewritten = onnx.load(str(find_model(relative, "test")))
    folded, fused = fold_conv_affine(rewritten), fuse_hardswish(rewritten)
    assert folded >= 20 and fused >= 20  # precondition: the exported patterns are there and were rewritten
    onnx.checker.check_model(rewritten)
    assert len(rewritten.graph.node) < len(original.graph.node) - 2 * folded
    blob = _image_blob(*shape)
    before, after = _run(original, blob), _run(rewritten, blob)
    assert before.shape == after.shape
    assert float(np.abs(before - after).max()) < 1e-4  # float rounding only (a wrong fold moves it by > 0.01)
    assert float(before.max()) > 0.3  # the comparison covers strong responses, not only zeros


def _conv_model(extra_user: bool) -> onnx.ModelProto:
    rng = np.random.default_rng(3)
    weight = numpy_helper.from_array(rng.normal(size=(4, 2, 3, 3)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.normal(size=4).astype(np.float32), "b")
    scale = numpy_helper.from_array(np.array([1.7], np.float32), "s")
    shift = numpy_helper.from_array(np.array([-0.4], np.float32), "t")
    three = numpy_helper.from_array(np.array(3.0, np.float32), "three")
    zero = numpy_helper.from_array(np.array(0.0, np.float32), "zero")
    six = numpy_helper.from_array(np.array(6.0, np.float32), "six")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["c", "s"], ["m"]),
        helper.make_node("Add", ["m", "t"], ["a"]),
        helper.make_node("Add", ["a", "three"], ["a3"]),
        helper.make_node("Clip", ["a3", "zero", "six"], ["cl"]),
        helper.make_node("Mul", ["a", "cl"], ["ml"]),
        helper.make_node("Div", ["ml", "six"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if extra_user:  # the convolution's own output is also a result: it must stay
        outputs.append(helper.make_tensor_value_info("c", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
                              outputs, [weight, bias, scale, shift, three, zero, six])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])


def test_conv_affine_and_hardswish_become_one_conv_and_a_gate() -> None:
    model = _conv_model(extra_user=False)
    blob = np.random.default_rng(4).normal(scale=2.0, size=(1, 2, 8, 8)).astype(np.float32)
    expected = _run(model, blob)
    assert (fold_conv_affine(model), fuse_hardswish(model)) == (1, 1)
    assert [n.op_type for n in model.graph.node] == ["Conv", "HardSigmoid", "Mul"]
    np.testing.assert_allclose(_run(model, blob), expected, rtol=1e-5, atol=1e-5)


def test_a_convolution_whose_output_is_used_elsewhere_is_not_folded() -> None:
    model = _conv_model(extra_user=True)
    assert fold_conv_affine(model) == 0
    assert [n.op_type for n in model.graph.node][:3] == ["Conv", "Mul", "Add"]
