#!/usr/bin/env python3
"""The project's own models, built with seeded weights (no download): the demo CNN and the
model-parity set of tests/models (ResNet-50, MobileNetV2, an LSTM/GRU sequence model, a
BERT-base-like encoder, a detector head).

Usage: model_zoo.py [--out-dir models] [NAME ...]   (default: every model)
Names: demo_resnet resnet50 mobilenetv2 lstm_gru bert_encoder detector_head
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class GraphBuilder:
    """Appends nodes and seeded float32 weights; each helper returns its output's name."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.initializers = []
        self.count = 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def weight(self, name, array, dtype=np.float32):
        self.initializers.append(numpy_helper.from_array(np.asarray(array).astype(dtype), name))
        return name

    def op(self, op_type, inputs, prefix=None, outputs=1, **attrs):
        base = self.name(prefix or op_type.lower())
        names = [base] if outputs == 1 else [f"{base}.{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, name=base, **attrs))
        return names[0] if outputs == 1 else names

    def conv(self, x, in_ch, out_ch, kernel, stride=1, group=1, bias=False):
        fan_in = in_ch // group * kernel * kernel
        w = self.rng.normal(0.0, np.sqrt(2.0 / fan_in), (out_ch, in_ch // group, kernel, kernel))
        inputs = [x, self.weight(self.name("conv.w"), w)]
        if bias:
            inputs.append(self.weight(self.name("conv.b"), self.rng.normal(0.0, 0.1, out_ch)))
        return self.op("Conv", inputs, "conv", kernel_shape=[kernel, kernel],
                       strides=[stride, stride], pads=[kernel // 2] * 4, group=group)

    def batch_norm(self, x, channels):
        # Non-trivial statistics, as a trained network would have.
        params = [self.rng.uniform(0.5, 1.5, channels), self.rng.normal(0.0, 0.1, channels),
                  self.rng.normal(0.0, 0.2, channels), self.rng.uniform(0.5, 2.0, channels)]
        names = [self.weight(self.name(f"bn.{p}"), v)
                 for p, v in zip(("scale", "bias", "mean", "var"), params)]
        return self.op("BatchNormalization", [x] + names, "bn", epsilon=1e-5)

    def conv_bn(self, x, in_ch, out_ch, kernel, stride=1, group=1, activation="Relu"):
        y = self.batch_norm(self.conv(x, in_ch, out_ch, kernel, stride, group), out_ch)
        if activation == "Relu":
            return self.op("Relu", [y])
        if activation == "Relu6":
            return self.op("Clip", [y, self.weight(self.name("clip.min"), np.array(0.0)),
                                    self.weight(self.name("clip.max"), np.array(6.0))], "relu6")
        return y

    def dense(self, x, in_dim, out_dim, scale=1.0):
        w = self.rng.normal(0.0, scale / np.sqrt(in_dim), (in_dim, out_dim))
        y = self.op("MatMul", [x, self.weight(self.name("dense.w"), w)])
        return self.op("Add", [y, self.weight(self.name("dense.b"),
                                              self.rng.normal(0.0, 0.02, out_dim))])

    def classifier(self, x, channels, classes=1000):
        pooled = self.op("Flatten", [self.op("GlobalAveragePool", [x])], axis=1)
        # Small enough that the logits are not saturated, so outputs stay informative.
        w = self.rng.normal(0.0, 0.2 / np.sqrt(channels), (classes, channels))
        b = self.rng.normal(0.0, 0.01, classes)
        return self.op("Gemm", [pooled, self.weight(self.name("fc.w"), w),
                                self.weight(self.name("fc.b"), b)], "fc", transB=1)

    def model(self, name, inputs, outputs):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        model = helper.make_model(graph, producer_name="unihal-model-zoo",
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        onnx.checker.check_model(model, full_check=True)
        return model


def image_input(batch="N"):
    return helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, 224, 224])


def resnet(name, block, stages, widths, batch, seed, softmax=False):
    """ResNet v1 with basic (ResNet-18) or bottleneck (ResNet-50) blocks."""
    b = GraphBuilder(seed)
    x = b.op("MaxPool", [b.conv_bn("image", 3, 64, 7, 2)], kernel_shape=[3, 3],
             strides=[2, 2], pads=[1, 1, 1, 1])
    channels = 64
    for stage, (count, width) in enumerate(zip(stages, widths)):
        for i in range(count):
            stride = 2 if stage > 0 and i == 0 else 1
            out_ch = width * (4 if block == "bottleneck" else 1)
            if block == "bottleneck":
                y = b.conv_bn(x, channels, width, 1)
                y = b.conv_bn(y, width, width, 3, stride)
                y = b.conv_bn(y, width, out_ch, 1, activation=None)
            else:
                y = b.conv_bn(b.conv_bn(x, channels, width, 3, stride), width, width, 3,
                              activation=None)
            shortcut = x
            if stride != 1 or channels != out_ch:
                shortcut = b.conv_bn(x, channels, out_ch, 1, stride, activation=None)
            x = b.op("Relu", [b.op("Add", [y, shortcut])])
            channels = out_ch
    logits = b.classifier(x, channels)
    out_name = "prob" if softmax else "logits"
    b.nodes.append(helper.make_node("Softmax" if softmax else "Identity", [logits], [out_name],
                                    name="output", **({"axis": 1} if softmax else {})))
    return b.model(name, [image_input(batch)],
                   [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [batch, 1000])])


def demo_resnet():
    """The demo: a ResNet-18 (10-40 ms on 2 cores), batch 1, softmax output "prob"."""
    return resnet("demo_resnet", "basic", (2, 2, 2, 2), (64, 128, 256, 512), 1, 0, softmax=True)


def resnet50():
    return resnet("resnet50", "bottleneck", (3, 4, 6, 3), (64, 128, 256, 512), "N", 50)


def mobilenetv2():
    """MobileNetV2 1.0: inverted residuals with depthwise 3x3 convs and ReLU6."""
    b = GraphBuilder(2)
    x = b.conv_bn("image", 3, 32, 3, 2, activation="Relu6")
    channels = 32
    # (expansion, out channels, repeats, first stride)
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = channels * t
            y = x if t == 1 else b.conv_bn(x, channels, hidden, 1, activation="Relu6")
            y = b.conv_bn(y, hidden, hidden, 3, stride, group=hidden, activation="Relu6")
            y = b.conv_bn(y, hidden, c, 1, activation=None)
            x = b.op("Add", [x, y]) if stride == 1 and channels == c else y
            channels = c
    x = b.conv_bn(x, channels, 1280, 1, activation="Relu6")
    logits = b.classifier(x, 1280)
    b.nodes.append(helper.make_node("Identity", [logits], ["logits"], name="output"))
    return b.model("mobilenetv2", [image_input()],
                   [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])])


def recurrent_weights(b, gates, input_size, hidden, directions):
    scale = 1.0 / np.sqrt(hidden)
    w = b.rng.uniform(-scale, scale, (directions, gates * hidden, input_size))
    r = b.rng.uniform(-scale, scale, (directions, gates * hidden, hidden))
    bias = b.rng.uniform(-scale, scale, (directions, 2 * gates * hidden))
    return [b.weight(b.name("rnn.w"), w), b.weight(b.name("rnn.r"), r),
            b.weight(b.name("rnn.b"), bias)]


def lstm_gru():
    """A bidirectional LSTM then a GRU over [seq, batch, 40] features, sequence length dynamic;
    outputs every step's GRU state and the LSTM's final states."""
    b = GraphBuilder(3)
    features, hidden = 40, 64
    y, y_h, y_c = b.op("LSTM", ["features"] + recurrent_weights(b, 4, features, hidden, 2),
                       outputs=3, direction="bidirectional", hidden_size=hidden)
    # Y: [seq, 2, batch, hidden] -> [seq, batch, 2 * hidden]
    y = b.op("Transpose", [y], perm=[0, 2, 1, 3])
    y = b.op("Reshape", [y, b.weight("lstm.shape", np.array([0, 0, 2 * hidden]), np.int64)])
    gru_y, _ = b.op("GRU", [y] + recurrent_weights(b, 3, 2 * hidden, 32, 1), outputs=2,
                    hidden_size=32, linear_before_reset=1)
    for name, value in (("steps", gru_y), ("lstm_h", y_h), ("lstm_c", y_c)):
        b.nodes.append(helper.make_node("Identity", [value], [name], name=f"out_{name}"))
    return b.model("lstm_gru",
                   [helper.make_tensor_value_info("features", TensorProto.FLOAT,
                                                  ["seq", "batch", features])],
                   [helper.make_tensor_value_info("steps", TensorProto.FLOAT,
                                                  ["seq", 1, "batch", 32]),
                    helper.make_tensor_value_info("lstm_h", TensorProto.FLOAT,
                                                  [2, "batch", hidden]),
                    helper.make_tensor_value_info("lstm_c", TensorProto.FLOAT,
                                                  [2, "batch", hidden])])


def layer_norm(b, x, dim):
    return b.op("LayerNormalization",
                [x, b.weight(b.name("ln.scale"), b.rng.uniform(0.8, 1.2, dim)),
                 b.weight(b.name("ln.bias"), b.rng.normal(0.0, 0.05, dim))], "ln", axis=-1,
                epsilon=1e-12)


def gelu(b, x):
    """GELU as BERT exports write it: x * 0.5 * (1 + erf(x / sqrt(2)))."""
    half = b.weight(b.name("gelu.half"), np.array(0.5))
    one = b.weight(b.name("gelu.one"), np.array(1.0))
    sqrt2 = b.weight(b.name("gelu.sqrt2"), np.array(np.sqrt(2.0)))
    erf = b.op("Erf", [b.op("Div", [x, sqrt2])])
    return b.op("Mul", [b.op("Mul", [x, half]), b.op("Add", [erf, one])])


def bert_encoder(layers=4, hidden=768, heads=12, ffn=3072, vocab=30522, max_positions=512):
    """BERT-base dimensions (hidden 768, 12 heads, FFN 3072), fewer layers; batch and sequence
    length dynamic; input_ids int64[batch, seq] and attention_mask float32[batch, seq]."""
    b = GraphBuilder(4)
    head_dim = hidden // heads
    words = b.op("Gather", [b.weight("word_embeddings", b.rng.normal(0, 0.02, (vocab, hidden))),
                            "input_ids"], axis=0)
    # Position embeddings for positions 0..seq-1, sliced by the run's sequence length.
    seq_len = b.op("Gather", [b.op("Shape", ["input_ids"]),
                              b.weight("dim1", np.array([1]), np.int64)], axis=0)
    positions = b.op("Slice", [b.weight("position_embeddings",
                                        b.rng.normal(0, 0.02, (max_positions, hidden))),
                               b.weight("zero", np.array([0]), np.int64), seq_len])
    x = layer_norm(b, b.op("Add", [words, positions]), hidden)
    # mask: 1 keep, 0 pad -> additive (1 - mask) * -10000, shaped [batch, 1, 1, seq]
    mask = b.op("Unsqueeze", ["attention_mask", b.weight("mask.axes", np.array([1, 2]), np.int64)])
    mask = b.op("Mul", [b.op("Sub", [b.weight("mask.one", np.array(1.0)), mask]),
                        b.weight("mask.neg", np.array(-10000.0))])
    split_heads = b.weight("split_heads", np.array([0, 0, heads, head_dim]), np.int64)
    merge_heads = b.weight("merge_heads", np.array([0, 0, hidden]), np.int64)
    scale = b.weight("attention.scale", np.array(1.0 / np.sqrt(head_dim)))
    for _ in range(layers):
        q, k, v = (b.op("Transpose", [b.op("Reshape", [b.dense(x, hidden, hidden), split_heads])],
                        perm=perm) for perm in ([0, 2, 1, 3], [0, 2, 3, 1], [0, 2, 1, 3]))
        scores = b.op("Add", [b.op("Mul", [b.op("MatMul", [q, k]), scale]), mask])
        context = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])
        context = b.op("Reshape", [b.op("Transpose", [context], perm=[0, 2, 1, 3]), merge_heads])
        x = layer_norm(b, b.op("Add", [x, b.dense(context, hidden, hidden)]), hidden)
        inner = gelu(b, b.dense(x, hidden, ffn))
        x = layer_norm(b, b.op("Add", [x, b.dense(inner, ffn, hidden)]), hidden)
    pooled = b.op("Tanh", [b.dense(b.op("Gather", [x, b.weight("cls", np.array(0), np.int64)],
                                        axis=1), hidden, hidden)])
    b.nodes.append(helper.make_node("Identity", [x], ["sequence_output"], name="out_seq"))
    b.nodes.append(helper.make_node("Identity", [pooled], ["pooled_output"], name="out_pool"))
    return b.model("bert_encoder",
                   [helper.make_tensor_value_info("input_ids", TensorProto.INT64,
                                                  ["batch", "seq"]),
                    helper.make_tensor_value_info("attention_mask", TensorProto.FLOAT,
                                                  ["batch", "seq"])],
                   [helper.make_tensor_value_info("sequence_output", TensorProto.FLOAT,
                                                  ["batch", "seq", hidden]),
                    helper.make_tensor_value_info("pooled_output", TensorProto.FLOAT,
                                                  ["batch", hidden])])


def detector_head(classes=8, anchors=3, top_k=100):
    """An FPN-style detector head over a 2-level feature pyramid: upsampling (Resize), Concat,
    per-anchor box and class convolutions, Sigmoid scores, TopK over the best class score and
    NonMaxSuppression on the decoded boxes."""
    b = GraphBuilder(5)
    p5 = b.conv_bn("c5", 256, 128, 1)
    up = b.op("Resize", [p5, "", b.weight("up.scales", np.array([1.0, 1.0, 2.0, 2.0]))],
              mode="nearest")
    p4 = b.conv_bn(b.op("Concat", [up, b.conv_bn("c4", 128, 128, 1)], axis=1), 256, 128, 3)
    boxes = b.conv(p4, 128, anchors * 4, 3, bias=True)   # [1, A*4, H, W]
    logits = b.conv(p4, 128, anchors * classes, 3, bias=True)
    # -> boxes [1, H*W*A, 4] (y1, x1, y2, x2) and scores [1, H*W*A, classes]
    flat_boxes = b.op("Reshape", [b.op("Transpose", [boxes], perm=[0, 2, 3, 1]),
                                  b.weight("boxes.shape", np.array([1, -1, 4]), np.int64)])
    # Sigmoid gives (center y, center x, height, width) in [0, 1]; NMS takes corners.
    decoded = b.op("Sigmoid", [flat_boxes])
    axis2 = b.weight("box.axis", np.array([2]), np.int64)
    center = b.op("Slice", [decoded, b.weight("box.c0", np.array([0]), np.int64),
                            b.weight("box.c1", np.array([2]), np.int64), axis2])
    half_size = b.op("Mul", [b.op("Slice", [decoded, b.weight("box.s0", np.array([2]), np.int64),
                                            b.weight("box.s1", np.array([4]), np.int64), axis2]),
                             b.weight("box.half", np.array(0.5))])
    corners = b.op("Concat", [b.op("Sub", [center, half_size]), b.op("Add", [center, half_size])],
                   axis=2)
    scores = b.op("Sigmoid", [b.op("Reshape", [
        b.op("Transpose", [logits], perm=[0, 2, 3, 1]),
        b.weight("scores.shape", np.array([1, -1, classes]), np.int64)])])
    best = b.op("ReduceMax", [scores], axes=[2], keepdims=0)  # [1, boxes]
    top_scores, top_indices = b.op("TopK", [best, b.weight("k", np.array([top_k]), np.int64)],
                                   outputs=2, axis=1)
    nms = b.op("NonMaxSuppression",
               [corners, b.op("Transpose", [scores], perm=[0, 2, 1]),
                b.weight("nms.max", np.array([20]), np.int64),
                b.weight("nms.iou", np.array([0.5])), b.weight("nms.score", np.array([0.6]))])
    for name, value in (("top_scores", top_scores), ("top_indices", top_indices),
                        ("selected", nms)):
        b.nodes.append(helper.make_node("Identity", [value], [name], name=f"out_{name}"))
    return b.model("detector_head",
                   [helper.make_tensor_value_info("c5", TensorProto.FLOAT, [1, 256, 10, 10]),
                    helper.make_tensor_value_info("c4", TensorProto.FLOAT, [1, 128, 20, 20])],
                   [helper.make_tensor_value_info("top_scores", TensorProto.FLOAT, [1, top_k]),
                    helper.make_tensor_value_info("top_indices", TensorProto.INT64, [1, top_k]),
                    helper.make_tensor_value_info("selected", TensorProto.INT64, [None, 3])])


MODELS = {"demo_resnet": demo_resnet, "resnet50": resnet50, "mobilenetv2": mobilenetv2,
          "lstm_gru": lstm_gru, "bert_encoder": bert_encoder, "detector_head": detector_head}


def build(name, out_dir):
    """Writes out_dir/<name>.onnx unless it is there already; returns its path."""
    path = os.path.join(out_dir, f"{name}.onnx")
    if not os.path.exists(path):
        os.makedirs(out_dir, exist_ok=True)
        model = MODELS[name]()
        onnx.save(model, path + ".tmp")
        os.replace(path + ".tmp", path)
        params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
        print(f"wrote {path}: {len(model.graph.node)} nodes, {params / 1e6:.1f} M parameters")
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", default="models")
    parser.add_argument("names", nargs="*", help=f"models to build: {', '.join(MODELS)}")
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)}; known: {', '.join(MODELS)}")
    for name in args.names or MODELS:
        build(name, args.out_dir)


if __name__ == "__main__":
    main()
