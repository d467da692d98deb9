"""pixels/graph.py ``fold_affine_into_conv``: a scalar affine whose one user is a convolution without
padding is folded into that convolution, with the same outputs (beyond float rounding); a padded or
grouped convolution, or an affine with a second user, is left as it is."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from test_pixels_graph import _image_blob, _run

from dicom_deid.pixels.graph import fold_affine_into_conv, fold_conv_affine, fuse_hardswish
from dicom_deid.pixels.models import DETECTION, RECOGNITION, find_model


def _model(*, pads: list[int], group: int = 1, second_user: bool = False) -> onnx.ModelProto:
    """Relu -> Mul(0.7) -> Add(-0.4) -> Conv(3x3, 4 -> 6 channels, ``pads``, ``group``) on a 4-channel map."""
    rng = np.random.default_rng(11)
    weight = numpy_helper.from_array(rng.normal(size=(6, 4 // group, 3, 3)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.normal(size=6).astype(np.float32), "b")
    scale = numpy_helper.from_array(np.array(0.7, np.float32), "s")
    shift = numpy_helper.from_array(np.array(-0.4, np.float32), "t")
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Mul", ["r", "s"], ["m"]),
        helper.make_node("Add", ["m", "t"], ["a"]),
        helper.make_node("Conv", ["a", "w", "b"], ["y"], pads=pads, group=group),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if second_user:
        outputs.append(helper.make_tensor_value_info("a", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 9, 11])],
                              outputs, [weight, bias, scale, shift])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_an_affine_before_an_unpadded_convolution_is_folded_with_the_same_output() -> None:
    blob = np.random.default_rng(12).normal(size=(1, 4, 9, 11)).astype(np.float32)
    before, after = _model(pads=[0, 0, 0, 0]), _model(pads=[0, 0, 0, 0])
    assert fold_affine_into_conv(after) == 1
    assert [node.op_type for node in after.graph.node] == ["Relu", "Conv"]
    expected, got = _run(before, blob), _run(after, blob)
    assert expected.shape == got.shape == (1, 6, 7, 9)
    assert float(np.abs(expected - got).max()) < 1e-5  # a wrong scale or shift: > 0.1


@pytest.mark.parametrize(("pads", "group", "second_user"), [
    ([1, 1, 1, 1], 1, False),  # padded: the zeros at the border would become -t/s
    ([0, 0, 0, 0], 2, False),  # grouped
    ([0, 0, 0, 0], 1, True),  # the affine's result is used elsewhere too
], ids=["padded", "grouped", "second-user"])
def test_an_affine_is_left_where_folding_would_change_the_result(pads: list[int], group: int,
                                                                   second_user: bool) -> None:
    model = _model(pads=pads, group=group, second_user=second_user)
    assert fold_affine_into_conv(model) == 0
    assert [node.op_type for node in model.graph.node] == ["Relu", "Mul", "Add", "Conv"]


@pytest.mark.parametrize(("relative", "shape"), [(DETECTION, (320, 480)), (RECOGNITION, (48, 320))], ids=["det", "rec"])
def test_the_wheels_networks_give_the_same_output_with_the_affines_folded(relative, shape) -> None:
    before_model = onnx.load(str(find_model(relative, "test")))
    after_model = onnx.load(str(find_model(relative, "test")))
    for model in (before_model, after_model):
        fold_conv_affine(model)
        fuse_hardswish(model)
    assert fold_affine_into_conv(after_model) >= 10
    onnx.checker.check_model(after_model)
    blob = _image_blob(*shape)
    before, after = _run(before_model, blob), _run(after_model, blob)
    assert before.shape == after.shape
    assert float(np.abs(before - after).max()) < 1e-4  # float rounding only
    assert float(before.max()) > 0.3  # strong responses are compared, not only zeros
