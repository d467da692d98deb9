"""pixels/graph.py ``affine_as_depthwise``: the scalar affine after an activation, run as a 1x1
depthwise convolution, gives the same outputs (beyond float rounding) as the graph it replaces."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from test_pixels_graph import _image_blob, _run

from dicom_deid.pixels.graph import affine_as_depthwise, fold_conv_affine, fuse_hardswish
from dicom_deid.pixels.models import DETECTION, RECOGNITION, find_model


def _scalar_affines(model: onnx.ModelProto) -> int:
    """``Mul`` by a one-value constant whose result goes to an ``Add``: the pattern rewritten."""
    constants = {init.name for init in model.graph.initializer if int(np.prod(init.dims)) == 1}
    constants |= {  # the recognizer's constants are Constant nodes
        node.output[0] for node in model.graph.node
        if node.op_type == "Constant" and numpy_helper.to_array(node.attribute[0].t).size == 1
    }
    adds = {name for node in model.graph.node if node.op_type == "Add" for name in node.input}
    return sum(
        1 for node in model.graph.node
        if node.op_type == "Mul" and any(name in constants for name in node.input) and node.output[0] in adds
    )


@pytest.mark.parametrize(("relative", "shape"), [(DETECTION, (320, 480)), (RECOGNITION, (48, 320))], ids=["det", "rec"])
def test_the_wheels_networks_give_the_same_output_with_the_affines_as_convolutions(relative, shape) -> None:
    before_model = onnx.load(str(find_model(relative, "test")))
    after_model = onnx.load(str(find_model(relative, "test")))
    for model in (before_model, after_model):
        fold_conv_affine(model)
        fuse_hardswish(model)
    assert _scalar_affines(after_model) >= 20  # precondition: the exported affines are there
    assert affine_as_depthwise(after_model) >= 20
    onnx.checker.check_model(after_model)
    assert _scalar_affines(after_model) == 0
    blob = _image_blob(*shape)
    before, after = _run(before_model, blob), _run(after_model, blob)
    assert before.shape == after.shape
    assert float(np.abs(before - after).max()) < 1e-4  # float rounding only (a wrong scale or shift: > 0.01)
    assert float(before.max()) > 0.3  # strong responses are compared, not only zeros


def _affine_model(*, scale: np.ndarray, second_user: bool) -> onnx.ModelProto:
    """Conv -> Relu -> Mul(scale) -> Add(-0.4) on a 3-channel map (with the Mul's result also an
    output of its own when ``second_user``)."""
    rng = np.random.default_rng(5)
    weight = numpy_helper.from_array(rng.normal(size=(3, 2, 3, 3)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.normal(size=3).astype(np.float32), "b")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Mul", ["r", "s"], ["m"]),
        helper.make_node("Add", ["m", "t"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if second_user:
        outputs.append(helper.make_tensor_value_info("m", TensorProto.FLOAT, None))
    initializers = [weight, bias, numpy_helper.from_array(scale.astype(np.float32), "s"),
                    numpy_helper.from_array(np.array([-0.4], np.float32), "t")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
                              outputs, initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])


def test_a_scalar_affine_becomes_a_depthwise_convolution_with_the_same_output() -> None:
    model = _affine_model(scale=np.array([1.7]), second_user=False)
    blob = np.random.default_rng(6).normal(scale=2.0, size=(1, 2, 8, 8)).astype(np.float32)
    expected = _run(model, blob)
    assert affine_as_depthwise(model) == 1
    assert [n.op_type for n in model.graph.node] == ["Conv", "Relu", "Conv"]
    depthwise = model.graph.node[2]
    assert {a.name: helper.get_attribute_value(a) for a in depthwise.attribute}["group"] == 3
    np.testing.assert_allclose(_run(model, blob), expected, rtol=1e-6, atol=1e-6)


def test_an_affine_whose_product_is_used_elsewhere_or_not_scalar_is_left_alone() -> None:
    shared = _affine_model(scale=np.array([1.7]), second_user=True)
    assert affine_as_depthwise(shared) == 0
    per_channel = _affine_model(scale=np.array([1.7, 0.5, 2.0]).reshape(1, 3, 1, 1), second_user=False)
    assert affine_as_depthwise(per_channel) == 0
    assert [n.op_type for n in per_channel.graph.node] == ["Conv", "Relu", "Mul", "Add"]
