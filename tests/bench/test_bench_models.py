"""bench/models.py's FLOP count and batch-8 copies (no timing here: speed is measured in
bench/, never asserted in tests)."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import models  # noqa: E402


def small_model(batch):
    """Conv 3->4 3x3 (pad 1) on 8x8, flatten, Gemm 256->10, MatMul 10->5."""
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    g = numpy_helper.from_array(np.ones((256, 10), np.float32), "g")
    m = numpy_helper.from_array(np.ones((10, 5), np.float32), "m")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["c"], ["f"]),
             helper.make_node("Gemm", ["f", "g"], ["d"]),
             helper.make_node("MatMul", ["d", "m"], ["y"])]
    graph = helper.make_graph(
        nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 5])], [w, g, m])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_flops_count_conv_gemm_and_matmul():
    per_image = 2 * (4 * 8 * 8 * 3 * 3 * 3) + 2 * 256 * 10 + 2 * 10 * 5
    assert models.count_flops(models.infer(small_model(1))) == per_image
    symbolic = models.set_dims(small_model("N"), {0: 8})
    assert models.count_flops(models.infer(symbolic)) == 8 * per_image


def test_static_batch_one_gets_a_batch_8_copy(tmp_path):
    path = str(tmp_path / "small.onnx")
    onnx.save(small_model(1), path)
    prepared, skip = models.prepare("small", path, True, 8, str(tmp_path))
    assert skip is None
    copy = onnx.load(prepared["path"])
    assert copy.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 8
    assert prepared["batch"] is None  # the copy is static, so no --batch


def test_hard_coded_batch_is_not_applicable(tmp_path):
    model = small_model(1)
    shape = numpy_helper.from_array(np.array([1, -1], np.int64), "shape")
    model.graph.initializer.append(shape)
    model.graph.node[1].CopyFrom(helper.make_node("Reshape", ["c", "shape"], ["f"]))
    path = str(tmp_path / "fixed.onnx")
    onnx.save(model, path)
    prepared, skip = models.prepare("fixed", path, True, 8, str(tmp_path))
    assert prepared is None
    assert skip.startswith("n/a")
