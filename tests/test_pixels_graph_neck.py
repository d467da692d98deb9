"""pixels/graph.py ``fold_transpose_bias`` and ``gate_residual``: the detector's neck and head
rewritten (a transposed convolution's bias added in its kernel; ``x + x * g`` as ``x * (g + 1)``)
give the same outputs (beyond float rounding) as the graph they replace, and patterns that are not
exactly these are left alone."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from test_pixels_graph import _image_blob, _run

from dicom_deid.pixels.graph import (
    affine_as_depthwise,
    fold_conv_affine,
    fold_transpose_bias,
    fuse_hardswish,
    gate_residual,
)
from dicom_deid.pixels.models import DETECTION, find_model


def test_the_detector_gives_the_same_output_with_its_neck_rewritten() -> None:
    before_model = onnx.load(str(find_model(DETECTION, "test")))
    after_model = onnx.load(str(find_model(DETECTION, "test")))
    for model in (before_model, after_model):
        fold_conv_affine(model)
        fuse_hardswish(model)
        affine_as_depthwise(model)
    assert fold_transpose_bias(after_model) == 2  # the head's two upsampling steps
    assert gate_residual(after_model) == 8  # the neck's eight squeeze-and-excitation blocks
    onnx.checker.check_model(after_model)
    ops = [n.op_type for n in after_model.graph.node]
    assert ops.count("Add") == [n.op_type for n in before_model.graph.node].count("Add") - 2  # 8 map Adds out, 8 gate Adds in
    blob = _image_blob(320, 480)
    before, after = _run(before_model, blob), _run(after_model, blob)
    assert before.shape == after.shape
    assert float(np.abs(before - after).max()) < 1e-4  # float rounding only (a wrong bias or gate: > 0.01)
    assert float(before.max()) > 0.3  # strong responses are compared, not only zeros


def _transpose_model(shift: np.ndarray) -> onnx.ModelProto:
    """ConvTranspose (2 -> 3 channels, 2x2 stride 2, no bias) then Add(shift)."""
    rng = np.random.default_rng(7)
    weight = numpy_helper.from_array(rng.normal(size=(2, 3, 2, 2)).astype(np.float32), "w")
    nodes = [
        helper.make_node("ConvTranspose", ["x", "w"], ["c"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Add", ["c", "t"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [weight, numpy_helper.from_array(shift.astype(np.float32), "t")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])


def test_a_per_channel_add_after_a_transposed_convolution_becomes_its_bias() -> None:
    blob = np.random.default_rng(8).normal(size=(1, 2, 3, 3)).astype(np.float32)
    for shift in (np.array([0.5, -1.0, 2.0]).reshape(1, 3, 1, 1), np.array([0.25]).reshape(1, 1, 1, 1)):
        model = _transpose_model(shift)
        expected = _run(model, blob)
        assert fold_transpose_bias(model) == 1
        assert [n.op_type for n in model.graph.node] == ["ConvTranspose"]
        np.testing.assert_allclose(_run(model, blob), expected, rtol=1e-6, atol=1e-6)


def test_an_add_that_is_not_per_channel_is_left_after_the_transposed_convolution() -> None:
    """A ``[6]`` constant broadcasts along the width (6 columns), not the channels: not a bias."""
    model = _transpose_model(np.arange(6, dtype=np.float32))
    assert fold_transpose_bias(model) == 0
    assert [n.op_type for n in model.graph.node] == ["ConvTranspose", "Add"]


def _gated_model(*, per_channel: bool, second_user: bool) -> onnx.ModelProto:
    """Conv -> x; g = Sigmoid(GlobalAveragePool(x)) (or Sigmoid(x): a full map); y = x + x * g."""
    rng = np.random.default_rng(9)
    weight = numpy_helper.from_array(rng.normal(size=(3, 2, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x_in", "w"], ["x"], pads=[1, 1, 1, 1])]
    if per_channel:
        nodes += [helper.make_node("GlobalAveragePool", ["x"], ["p"]), helper.make_node("Sigmoid", ["p"], ["g"])]
    else:
        nodes += [helper.make_node("Sigmoid", ["x"], ["g"])]
    nodes += [helper.make_node("Mul", ["x", "g"], ["m"]), helper.make_node("Add", ["x", "m"], ["y"])]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if second_user:
        outputs.append(helper.make_tensor_value_info("m", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x_in", TensorProto.FLOAT, [1, 2, "h", "w"])],
                              outputs, [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])


def test_a_map_plus_its_gated_self_becomes_one_product() -> None:
    model = _gated_model(per_channel=True, second_user=False)
    blob = np.random.default_rng(10).normal(scale=2.0, size=(1, 2, 8, 8)).astype(np.float32)
    expected = _run(model, blob)
    assert gate_residual(model) == 1
    ops = [n.op_type for n in model.graph.node]
    assert ops == ["Conv", "GlobalAveragePool", "Sigmoid", "Add", "Mul"]  # the Add now on the 1 x 1 gate
    np.testing.assert_allclose(_run(model, blob), expected, rtol=1e-5, atol=1e-6)


def test_a_gate_that_is_a_whole_map_or_a_product_used_elsewhere_is_left_alone() -> None:
    for model in (_gated_model(per_channel=False, second_user=False), _gated_model(per_channel=True, second_user=True)):
        ops = [n.op_type for n in model.graph.node]
        assert gate_residual(model) == 0
        assert [n.op_type for n in model.graph.node] == ops
