#!/usr/bin/env python3
"""Builds the demo model: a small ResNet-18-style CNN (reduced width) with seeded weights.

Input "image" float32[1, 3, 224, 224], output "prob" float32[1, 1000] (Softmax).
Usage: make_demo_model.py [OUTPUT_PATH]   (default models/demo_resnet.onnx)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WIDTHS = (64, 128, 256, 512)  # ResNet-18 widths: one run takes about 10-40 ms on 2 cores
BLOCKS_PER_STAGE = 2
NUM_CLASSES = 1000


class GraphBuilder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes = []
        self.initializers = []
        self.count = 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def weight(self, name, array):
        self.initializers.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def conv_bn(self, x, in_ch, out_ch, kernel, stride, relu):
        conv = self.name("conv")
        fan_in = in_ch * kernel * kernel
        w = self.rng.normal(0.0, np.sqrt(2.0 / fan_in), (out_ch, in_ch, kernel, kernel))
        self.nodes.append(helper.make_node(
            "Conv", [x, self.weight(conv + ".weight", w)], [conv], name=conv,
            kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[kernel // 2] * 4))
        bn = self.name("bn")
        # Non-trivial statistics, as a trained network would have.
        scale = self.rng.uniform(0.5, 1.5, out_ch)
        bias = self.rng.normal(0.0, 0.1, out_ch)
        mean = self.rng.normal(0.0, 0.2, out_ch)
        var = self.rng.uniform(0.5, 2.0, out_ch)
        self.nodes.append(helper.make_node(
            "BatchNormalization",
            [conv, self.weight(bn + ".scale", scale), self.weight(bn + ".bias", bias),
             self.weight(bn + ".mean", mean), self.weight(bn + ".var", var)],
            [bn], name=bn, epsilon=1e-5))
        if not relu:
            return bn
        out = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [bn], [out], name=out))
        return out

    def basic_block(self, x, in_ch, out_ch, stride):
        y = self.conv_bn(x, in_ch, out_ch, 3, stride, relu=True)
        y = self.conv_bn(y, out_ch, out_ch, 3, 1, relu=False)
        shortcut = x
        if stride != 1 or in_ch != out_ch:
            shortcut = self.conv_bn(x, in_ch, out_ch, 1, stride, relu=False)
        added = self.name("add")
        self.nodes.append(helper.make_node("Add", [y, shortcut], [added], name=added))
        out = self.name("relu")
        self.nodes.append(helper.make_node("Relu", [added], [out], name=out))
        return out


def build_model():
    builder = GraphBuilder(np.random.default_rng(0))
    x = builder.conv_bn("image", 3, WIDTHS[0], 7, 2, relu=True)
    pool = builder.name("maxpool")
    builder.nodes.append(helper.make_node("MaxPool", [x], [pool], name=pool, kernel_shape=[3, 3],
                                          strides=[2, 2], pads=[1, 1, 1, 1]))
    x, channels = pool, WIDTHS[0]
    for stage, width in enumerate(WIDTHS):
        for block in range(BLOCKS_PER_STAGE):
            stride = 2 if stage > 0 and block == 0 else 1
            x = builder.basic_block(x, channels, width, stride)
            channels = width
    builder.nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"))
    builder.nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1))
    # Small enough that the softmax is not saturated, so outputs stay informative to compare.
    fc_w = builder.rng.normal(0.0, 0.2 / np.sqrt(channels), (NUM_CLASSES, channels))
    fc_b = builder.rng.normal(0.0, 0.01, NUM_CLASSES)
    builder.nodes.append(helper.make_node(
        "Gemm", ["flat", builder.weight("fc.weight", fc_w), builder.weight("fc.bias", fc_b)],
        ["logits"], name="fc", transB=1))
    builder.nodes.append(helper.make_node("Softmax", ["logits"], ["prob"], name="softmax", axis=1))

    graph = helper.make_graph(
        builder.nodes, "demo_resnet",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, NUM_CLASSES])],
        builder.initializers)
    model = helper.make_model(graph, producer_name="unihal-demo",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "models/demo_resnet.onnx"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    model = build_model()
    onnx.save(model, path)
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    print(f"wrote {path}: {len(model.graph.node)} nodes, {params / 1e6:.1f} M parameters")


if __name__ == "__main__":
    main()
