"""Whole-model parity with ONNX Runtime on the project's own models (scripts/model_zoo.py,
seeded weights): the same inputs through `unihal run` on cpu and through onnxruntime's CPU
provider; every float output within a relative error of 1e-4 (max |unihal - ORT| over
max |ORT|), every integer output equal.

Models with dynamic dims run at two input sizes in separate processes, so one loaded model
serves whatever batch or sequence length the run brings.
"""
import json
import pathlib
import subprocess
import sys
import zlib

import numpy as np
import onnxruntime as ort
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / "build" / "bin" / "unihal"
MODEL_DIR = ROOT / "build" / "models"
sys.path.insert(0, str(ROOT / "scripts"))
import model_zoo  # noqa: E402

MAX_RELATIVE_ERROR = 1e-4


def images(batch):
    return lambda rng: {"image": rng.random((batch, 3, 224, 224), dtype=np.float32)}


def sequences(seq, batch):
    return lambda rng: {"features": rng.standard_normal((seq, batch, 40), dtype=np.float32)}


def tokens(batch, seq, padded):
    def make(rng):
        mask = np.ones((batch, seq), np.float32)
        if padded:
            mask[-1, seq // 2:] = 0.0  # the last sequence is half padding
        return {"input_ids": rng.integers(0, 30522, (batch, seq), dtype=np.int64),
                "attention_mask": mask}
    return make


def feature_maps(rng):
    return {"c5": rng.standard_normal((1, 256, 10, 10), dtype=np.float32),
            "c4": rng.standard_normal((1, 128, 20, 20), dtype=np.float32)}


CASES = [
    ("resnet50", "batch1", images(1)),
    ("resnet50", "batch2", images(2)),
    ("mobilenetv2", "batch1", images(1)),
    ("lstm_gru", "seq5_batch2", sequences(5, 2)),
    ("lstm_gru", "seq11_batch1", sequences(11, 1)),
    ("bert_encoder", "batch1_seq128", tokens(1, 128, padded=False)),
    ("bert_encoder", "batch2_seq9_padded", tokens(2, 9, padded=True)),
    ("detector_head", "static", feature_maps),
]


@pytest.mark.parametrize("model_name,label,make_inputs", CASES,
                         ids=[f"{m}-{label}" for m, label, _ in CASES])
def test_matches_onnxruntime(model_name, label, make_inputs, tmp_path):
    model_path = model_zoo.build(model_name, str(MODEL_DIR))
    inputs = make_inputs(np.random.default_rng(zlib.crc32(f"{model_name}-{label}".encode())))
    args = [str(CLI), "run", model_path, "--device", "cpu:0", "--output-dir",
            str(tmp_path / "out"), "--json"]
    for name, value in inputs.items():
        np.save(tmp_path / f"{name}.npy", value)
        args += ["--input", f"{name}={tmp_path / f'{name}.npy'}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    written = {o["name"]: o["path"] for o in json.loads(proc.stdout)["outputs"]}

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    for name, expected in zip(names, session.run(None, inputs)):
        actual = np.load(written[name])
        assert actual.dtype == expected.dtype, name
        assert actual.shape == expected.shape, name
        if np.issubdtype(expected.dtype, np.floating):
            scale = max(float(np.max(np.abs(expected))), np.finfo(np.float32).tiny)
            error = float(np.max(np.abs(actual.astype(np.float64) - expected))) / scale
            assert error <= MAX_RELATIVE_ERROR, f"{name}: relative error {error:.3g}"
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=name)
