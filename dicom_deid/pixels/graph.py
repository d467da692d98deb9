"""Exact algebraic simplification of the wheel's ONNX graphs before a session is made of them.

Knows no DICOM.  The PP-OCRv4 networks (PPLCNetV3) were exported op by op: each convolution is
followed by a learnable scalar affine (``Mul`` by a constant, ``Add`` of a constant), and each
hard-swish is spelled ``x * Clip(x + 3, 0, 6) / 6``.  onnxruntime fuses neither, and these
element-wise passes over full-resolution feature maps cost about as much as the convolutions.
Three rewrites, each the same function up to float rounding (outputs differ by ~1e-7 to ~1e-6):

* :func:`fold_conv_affine`: ``Add(Mul(Conv(x, W, B), s), t)`` -> ``Conv(x, s*W, s*B + t)``;
* :func:`fuse_hardswish`: ``Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)`` ->
  ``Mul(x, HardSigmoid(x; alpha=1/6, beta=1/2))`` (opset 6+);
* :func:`fold_affine_into_conv`: the scalar affine left after an activation, when its one user is
  a convolution without padding (a pointwise one), folded into that convolution's weights and bias;
* :func:`affine_as_depthwise`: the scalar affine left after an activation (any other), ``Add(Mul(x, s), t)``
  on a C-channel map, -> a 1x1 depthwise ``Conv`` of weight ``s`` and bias ``t`` per channel.
  onnxruntime keeps its convolutions in a blocked channel layout (NCHWc) but cannot run an
  element-wise op with a scalar in it: each such affine cost a reorder out of the blocked layout
  and one back in, over full-resolution maps; as a convolution it stays in the layout.

A pattern is rewritten only where every intermediate result has that one user; anything else
is left as it is.  Nothing is written to disk: :func:`simplified_bytes` returns the model to
hand to ``onnxruntime.InferenceSession``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np


def _constants(graph: Any) -> dict[str, Any]:
    """Values of the graph's initializers and ``Constant`` nodes, by output name."""
    from onnx import numpy_helper

    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attr.t)
    return values


def _scalar(values: dict[str, Any], name: str) -> float | None:
    value = values.get(name)
    return float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None


def _users(graph: Any) -> dict[str, list[Any]]:
    users: dict[str, list[Any]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            users[name].append(node)
    for out in graph.output:
        users[out.name].append(out)  # a graph output has a user outside the graph
    return users


def _only_user(users: dict[str, list[Any]], name: str, op_type: str) -> Any | None:
    found = users.get(name, [])
    return found[0] if len(found) == 1 and getattr(found[0], "op_type", None) == op_type else None


def fold_conv_affine(model: Any) -> int:
    """Fold a scalar ``Mul`` then ``Add`` of constants after a ``Conv`` into its weights and bias
    (in place); returns how many were folded."""
    import numpy as np
    from onnx import numpy_helper

    graph = model.graph
    values, users = _constants(graph), _users(graph)
    dropped: set[int] = set()
    folded = 0
    for conv in graph.node:
        if conv.op_type != "Conv" or conv.input[1] not in values:
            continue
        mul = _only_user(users, conv.output[0], "Mul")
        add = _only_user(users, mul.output[0], "Add") if mul is not None else None
        if mul is None or add is None or (len(conv.input) > 2 and conv.input[2] not in values):
            continue
        scale = _scalar(values, next((n for n in mul.input if n != conv.output[0]), ""))
        shift = _scalar(values, next((n for n in add.input if n != mul.output[0]), ""))
        if scale is None or shift is None or list(mul.input).count(conv.output[0]) != 1:
            continue
        weight = values[conv.input[1]].astype(np.float32)
        bias = values[conv.input[2]].astype(np.float32) if len(conv.input) > 2 else np.zeros(weight.shape[0], np.float32)
        names = (f"{conv.output[0]}__folded_w", f"{conv.output[0]}__folded_b")
        graph.initializer.extend([numpy_helper.from_array((weight * np.float32(scale)).astype(np.float32), names[0]),
                                  numpy_helper.from_array((bias * np.float32(scale) + np.float32(shift)).astype(np.float32),
                                                          names[1])])
        del conv.input[1:]
        conv.input.extend(names)
        conv.output[0] = add.output[0]
        dropped |= {id(mul), id(add)}
        folded += 1
    _drop(graph, dropped)
    return folded


def fold_affine_into_conv(model: Any) -> int:
    """Fold a scalar affine ``Add(Mul(x, s), t)`` whose one user is a ``Conv`` without padding (and
    with constant weights) into that convolution: ``Conv(s*x + t, W, B)`` is ``Conv(x, s*W, B + t *
    sum(W))``, the sum over each output's inputs and kernel (in place); returns how many.  Without
    padding every output sees only real inputs, so the border is computed as before; a padded
    convolution is left (its zeros would become ``-t/s``), as is a grouped one."""
    from onnx import helper, numpy_helper

    graph = model.graph
    values, users = _constants(graph), _users(graph)
    dropped: set[int] = set()
    folded = 0
    for mul in graph.node:
        if mul.op_type != "Mul" or len(mul.input) != 2:
            continue
        index = next((i for i, name in enumerate(mul.input) if _scalar(values, name) is not None), None)
        add = _only_user(users, mul.output[0], "Add") if index is not None else None
        if index is None or add is None or len(add.input) != 2 or list(add.input).count(mul.output[0]) != 1:
            continue
        shift = _scalar(values, next(n for n in add.input if n != mul.output[0]))
        conv = _only_user(users, add.output[0], "Conv")
        if shift is None or conv is None or conv.input[0] != add.output[0] or conv.input[1] not in values:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
        if any(attrs.get("pads", ())) or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
            continue
        if int(attrs.get("group", 1)) != 1 or (len(conv.input) > 2 and conv.input[2] not in values):
            continue
        scale = float(values[mul.input[index]].reshape(-1)[0])
        weight = values[conv.input[1]].astype(np.float64)
        bias = values[conv.input[2]].astype(np.float64) if len(conv.input) > 2 else np.zeros(weight.shape[0])
        name = f"{conv.name or conv.output[0]}__affine"
        graph.initializer.extend([
            numpy_helper.from_array((weight * scale).astype(np.float32), f"{name}_w"),
            numpy_helper.from_array((bias + shift * weight.sum(axis=(1, 2, 3))).astype(np.float32), f"{name}_b"),
        ])
        del conv.input[:]
        conv.input.extend([mul.input[1 - index], f"{name}_w", f"{name}_b"])
        dropped.update({id(mul), id(add)})
        folded += 1
    _drop(graph, dropped)
    return folded


def fuse_hardswish(model: Any) -> int:
    """Rewrite ``x * Clip(x + 3, 0, 6) / 6`` as ``x * HardSigmoid(x)`` (in place); returns how many."""
    from onnx import helper

    graph = model.graph
    values, users = _constants(graph), _users(graph)
    producer = {out: node for node in graph.node for out in node.output}
    replaced: dict[int, list[Any]] = {}
    dropped: set[int] = set()
    for div in graph.node:
        if div.op_type != "Div" or _scalar(values, div.input[1]) != 6.0:
            continue
        mul = producer.get(div.input[0])
        if mul is None or mul.op_type != "Mul" or len(users[mul.output[0]]) != 1:
            continue
        clips: list[Any] = [producer.get(n) for n in mul.input]
        index = next((i for i, c in enumerate(clips) if c is not None and c.op_type == "Clip"), None)
        if index is None or len(clips) != 2:
            continue
        clip, x = clips[index], mul.input[1 - index]
        if len(clip.input) != 3 or _scalar(values, clip.input[1]) != 0.0 or _scalar(values, clip.input[2]) != 6.0:
            continue
        add = producer.get(clip.input[0])
        if add is None or add.op_type != "Add" or x not in add.input or len(users[clip.output[0]]) != 1 \
                or len(users[add.output[0]]) != 1:
            continue
        if _scalar(values, next((n for n in add.input if n != x), "")) != 3.0 or list(add.input).count(x) != 1:
            continue
        gate = f"{div.output[0]}__hardsigmoid"
        replaced[id(add)] = [
            helper.make_node("HardSigmoid", [x], [gate], alpha=1.0 / 6.0, beta=0.5, name=f"{div.name}__hardsigmoid"),
            helper.make_node("Mul", [x, gate], [div.output[0]], name=f"{div.name}__hardswish"),
        ]
        dropped |= {id(add), id(clip), id(mul), id(div)}
    nodes: list[Any] = []
    for node in graph.node:
        nodes.extend(replaced.get(id(node), ()))  # where the Add was: x is already computed there
        if id(node) not in dropped:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    return len(replaced)


def affine_as_depthwise(model: Any) -> int:
    """Rewrite ``Add(Mul(x, s), t)`` with scalar constants ``s`` and ``t`` on a 4-D map ``x`` of a
    known channel count C as ``Conv(x, W, B; group=C, 1x1)`` with every ``W`` = s and ``B`` = t (in
    place); returns how many.  No padding, so the border is computed as before."""
    from onnx import helper, numpy_helper, shape_inference

    graph = model.graph
    channels: dict[str, int] = {}
    inferred = shape_inference.infer_shapes(model).graph
    for info in (*inferred.value_info, *inferred.input, *inferred.output):
        dims = info.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[1].HasField("dim_value") and dims[1].dim_value > 0:
            channels[info.name] = int(dims[1].dim_value)
    values, users = _constants(graph), _users(graph)
    replaced: dict[int, Any] = {}
    dropped: set[int] = set()
    for mul in graph.node:
        if mul.op_type != "Mul" or len(mul.input) != 2:
            continue
        index = next((i for i, name in enumerate(mul.input) if _scalar(values, name) is not None), None)
        if index is None or mul.input[1 - index] not in channels:
            continue
        add = _only_user(users, mul.output[0], "Add")
        if add is None or len(add.input) != 2 or list(add.input).count(mul.output[0]) != 1:
            continue
        shift = _scalar(values, next(n for n in add.input if n != mul.output[0]))
        scale = _scalar(values, mul.input[index])
        if shift is None or scale is None:
            continue
        x = mul.input[1 - index]
        count = channels[x]
        weight = numpy_helper.from_array(np.full((count, 1, 1, 1), scale, np.float32), f"{add.name}__depthwise_w")
        bias = numpy_helper.from_array(np.full((count,), shift, np.float32), f"{add.name}__depthwise_b")
        graph.initializer.extend([weight, bias])
        replaced[id(mul)] = helper.make_node(
            "Conv", [x, weight.name, bias.name], [add.output[0]], name=f"{add.name}__depthwise",
            group=count, kernel_shape=[1, 1],
        )
        dropped.add(id(add))
    nodes = [replaced.get(id(node), node) for node in graph.node if id(node) not in dropped]
    del graph.node[:]
    graph.node.extend(nodes)
    return len(replaced)


def fold_transpose_bias(model: Any) -> int:
    """Fold a constant per-channel ``Add`` (shape ``[1, C, 1, 1]``, ``[C, 1, 1]`` or one value) after a
    ``ConvTranspose`` without bias into its bias input (in place); returns how many.  onnxruntime adds
    a transposed convolution's bias in its kernel: the same sums, without a pass over the
    full-resolution map it writes."""
    from onnx import numpy_helper

    graph = model.graph
    values, users = _constants(graph), _users(graph)
    dropped: set[int] = set()
    folded = 0
    for node in graph.node:
        if node.op_type != "ConvTranspose" or len(node.input) != 2 or node.input[1] not in values:
            continue
        add = _only_user(users, node.output[0], "Add")
        if add is None or len(add.input) != 2 or list(add.input).count(node.output[0]) != 1:
            continue
        shift = values.get(next(n for n in add.input if n != node.output[0]))
        group = next((int(a.i) for a in node.attribute if a.name == "group"), 1)
        count = int(values[node.input[1]].shape[1]) * group  # output channels
        if shift is None or not (shift.size == 1 or (shift.size == count and shift.shape[-2:] == (1, 1)
                                                     and shift.ndim in (3, 4) and shift.shape[-3] == count)):
            continue
        name = f"{add.output[0]}__transpose_b"
        graph.initializer.append(numpy_helper.from_array(
            np.broadcast_to(shift.astype(np.float32).reshape(-1), (count,)).copy(), name))
        node.input.append(name)
        node.output[0] = add.output[0]
        dropped.add(id(add))
        folded += 1
    _drop(graph, dropped)
    return folded


def gate_residual(model: Any) -> int:
    """Rewrite ``Add(x, Mul(x, g))`` as ``Mul(x, Add(g, 1))`` (in place); returns how many.  The
    neck's squeeze-and-excitation blocks add a map to itself gated by a per-channel ``g``
    (``[1, C, 1, 1]``): the sum then costs a pass over the whole map, and the ``+ 1`` on ``g`` costs
    nothing.  Only where ``g`` is known to be per-channel (``[N, C, 1, 1]``) and ``x`` a map."""
    from onnx import helper, numpy_helper, shape_inference

    graph = model.graph
    shapes: dict[str, tuple[int | None, ...]] = {}  # None: a dimension of unknown size
    inferred = shape_inference.infer_shapes(model).graph
    for info in (*inferred.value_info, *inferred.input, *inferred.output):
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = tuple(int(d.dim_value) if d.HasField("dim_value") else None for d in dims)
    users = _users(graph)
    producer = {out: node for node in graph.node for out in node.output}
    one = "gate_residual__one"
    replaced: dict[int, list[Any]] = {}
    dropped: set[int] = set()
    for add in graph.node:
        if add.op_type != "Add" or len(add.input) != 2:
            continue
        for side in (0, 1):
            x, mul = add.input[1 - side], producer.get(add.input[side])
            if mul is None or mul.op_type != "Mul" or id(mul) in replaced or len(users[mul.output[0]]) != 1:
                continue
            if list(mul.input).count(x) != 1 or x == add.input[side]:
                continue
            gate = next(n for n in mul.input if n != x)
            if not (_is_map(shapes.get(x)) and _is_gate(shapes.get(gate))):
                continue  # only a per-channel gate on a map
            raised = f"{add.output[0]}__gate"
            replaced[id(mul)] = [
                helper.make_node("Add", [gate, one], [raised], name=f"{add.name}__gate"),
                helper.make_node("Mul", [x, raised], [add.output[0]], name=f"{add.name}__gated"),
            ]
            dropped.add(id(add))
            break
    if replaced:
        graph.initializer.append(numpy_helper.from_array(np.array(1.0, np.float32), one))
    nodes: list[Any] = []
    for node in graph.node:
        if id(node) in dropped:
            continue
        nodes.extend(replaced.get(id(node), [node]))
    del graph.node[:]
    graph.node.extend(nodes)
    return len(replaced)


def _is_map(shape: tuple[int | None, ...] | None) -> bool:
    """A 4-D map whose height or width is not known to be 1."""
    return shape is not None and len(shape) == 4 and (shape[2] != 1 or shape[3] != 1)


def _is_gate(shape: tuple[int | None, ...] | None) -> bool:
    """A 4-D per-channel value: height and width known to be 1."""
    return shape is not None and len(shape) == 4 and shape[2] == 1 and shape[3] == 1


def _drop(graph: Any, dropped: set[int]) -> None:
    kept = [node for node in graph.node if id(node) not in dropped]
    del graph.node[:]
    graph.node.extend(kept)


def simplified_bytes(path: Path) -> bytes:
    """The model at ``path`` with the six rewrites applied, serialised for onnxruntime."""
    import onnx

    model = onnx.load(str(path))
    fold_conv_affine(model)
    fuse_hardswish(model)
    fold_affine_into_conv(model)
    affine_as_depthwise(model)
    fold_transpose_bias(model)
    gate_residual(model)
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


__all__ = ["affine_as_depthwise", "fold_affine_into_conv", "fold_conv_affine", "fold_transpose_bias", "fuse_hardswish", "gate_residual",
           "simplified_bytes"]
