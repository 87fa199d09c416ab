"""Every ONNX "light" zoo model (onnx==1.22.0 backend test data) through `unihal run` on cpu.

Inputs are made exactly as ONNX's own backend runner makes them for these models
(arange(n).reshape(shape) / n, float32); outputs are compared with the expected outputs
shipped beside each model, within rtol 1e-3 and atol 1e-5.
"""
import json
import pathlib
import subprocess

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / "build" / "bin" / "unihal"
LIGHT_DIR = pathlib.Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
MODELS = sorted(LIGHT_DIR.glob("light_*.onnx"))


def dummy_input(value_info):
    dims = value_info.type.tensor_type.shape.dim
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in dims)
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


def test_light_models_are_present():
    assert len(MODELS) >= 9, f"expected the ONNX light zoo in {LIGHT_DIR}"


@pytest.mark.parametrize("model_path", MODELS, ids=[m.stem for m in MODELS])
def test_light_model_matches_expected_output(model_path, tmp_path):
    model = onnx.load(str(model_path), load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}
    args = [str(CLI), "run", str(model_path), "--device", "cpu:0",
            "--output-dir", str(tmp_path / "out"), "--json"]
    for value_info in model.graph.input:
        if value_info.name in initializers:
            continue
        path = tmp_path / f"input_{len(args)}.npy"
        np.save(path, dummy_input(value_info))
        args += ["--input", f"{value_info.name}={path}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    written = {o["name"]: o["path"] for o in report["outputs"]}
    for i, output in enumerate(model.graph.output):
        expected_file = model_path.with_name(f"{model_path.stem}_output_{i}.pb")
        expected = numpy_helper.to_array(onnx.load_tensor(str(expected_file)))
        actual = np.load(written[output.name])
        assert actual.dtype == expected.dtype
        assert actual.shape == expected.shape
        np.testing.assert_allclose(actual, expected, rtol=1e-3, atol=1e-5)
