#!/usr/bin/env python3
"""Model benchmarks: unihal against ONNX Runtime, side by side in one run (SPEC R7.2).

Each row is one `unihal bench MODEL --compare onnxruntime --json` (same model, inputs and
thread count; alternating blocks of iterations; outputs compared). The model set is the ONNX
light zoo (onnx/backend/test/data/light) plus the project's ResNet-50, MobileNetV2 and
BERT-base-like encoder at sequence 128 (scripts/model_zoo.py), at batch 1 and 8, threads 1 and
2. A light-zoo model has a static batch of 1; its batch-8 row runs a copy with the batch dim of
its inputs and outputs set to 8 when ONNX shape inference agrees, else it is "n/a".

The same run measures a peak probe: a 2048x2048x2048 MatMul through `unihal bench --compare`,
whose higher GFLOP/s (unihal's or ONNX Runtime's) stands for the machine's fp32 peak at that
thread count; ResNet-50's fraction of it uses the model's FLOPs counted from its Conv, Gemm and
MatMul shapes.

With --repeat N the whole model set runs N times, one pass after another, and each row reports
its pass with the median ratio (all passes' ratios beside it): on machines whose speed swings
from one minute to the next, one pass can catch either side in a slow minute.

Usage: .venv/bin/python bench/models.py [--quick] [--json] [--repeat N] [--models SUBSTR ...]
"""
import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import model_zoo  # noqa: E402

LIGHT_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
ZOO = ("resnet50", "mobilenetv2", "bert_encoder")
BERT_SEQUENCE = 128
PROBE_SIZE = 2048


def machine():
    name = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                name = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return {"cpu": name, "cores": os.cpu_count()}


def real_inputs(graph):
    initializers = {i.name for i in graph.initializer}
    return [i for i in graph.input if i.name not in initializers]


def set_dims(model, values):
    """A copy with the inputs' symbolic dims set from `values` ({symbol or 0: size}, 0 meaning
    the first dim of every input) and the outputs' first dim set to the batch when given."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for value in real_inputs(copy.graph):
        for i, dim in enumerate(value.type.tensor_type.shape.dim):
            if dim.dim_param in values:
                dim.dim_value = values[dim.dim_param]
            elif i == 0 and 0 in values:
                dim.dim_value = values[0]
    if 0 in values:
        for value in copy.graph.output:
            dims = value.type.tensor_type.shape.dim
            if dims:
                dims[0].dim_value = values[0]
    del copy.graph.value_info[:]
    return copy


def infer(model):
    return shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)


def shapes_of(model):
    shapes = {}
    g = model.graph
    for value in list(g.input) + list(g.output) + list(g.value_info):
        dims = value.type.tensor_type.shape.dim
        if value.type.tensor_type.HasField("shape"):
            shapes[value.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


def count_flops(model):
    """Multiply-adds x 2 of every Conv, Gemm and MatMul, from shape-inferred shapes; None when a
    needed shape is unknown."""
    shapes = shapes_of(model)
    total = 0
    for node in model.graph.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul"):
            continue
        try:
            if node.op_type == "Conv":
                w, y = shapes[node.input[1]], shapes[node.output[0]]
                total += 2 * math.prod(y) * math.prod(w[1:])  # N*Cout*spatial x Cin/g*kernel
            elif node.op_type == "Gemm":
                a = shapes[node.input[0]]
                trans_a = any(x.name == "transA" and x.i for x in node.attribute)
                k = a[0] if trans_a else a[1]
                total += 2 * math.prod(shapes[node.output[0]]) * k
            else:
                total += 2 * math.prod(shapes[node.output[0]]) * shapes[node.input[0]][-1]
        except (KeyError, TypeError, IndexError):
            return None
    return total


def probe_model(path, size):
    rng = np.random.default_rng(0)
    b = numpy_helper.from_array(rng.uniform(-1, 1, (size, size)).astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["y"])], "probe",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [size, size])], [b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, path)
    return 2 * size ** 3


class Runner:
    def __init__(self, args):
        self.args = args

    def bench(self, path, threads, batch=None, dims=(), iterations=None, warmup=None):
        cmd = [self.args.unihal, "bench", path, "--compare", "onnxruntime", "--json",
               "--threads", str(threads),
               "--iterations", str(iterations or self.args.iterations),
               "--warmup", str(self.args.warmup if warmup is None else warmup)]
        if batch:
            cmd += ["--batch", str(batch)]
        for name, value in dims:
            cmd += ["--dim", f"{name}={value}"]
        if self.args.python:
            cmd += ["--python", self.args.python]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=self.args.timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {self.args.timeout} s"}
        report = None
        if done.stdout.strip():
            try:
                report = json.loads(done.stdout)
            except json.JSONDecodeError:
                pass
        if done.returncode != 0:
            message = done.stderr.strip().removeprefix("unihal: error: ")
            report = dict(report or {}, error=message.splitlines()[0] if message else
                          f"exit {done.returncode}")
        return report


def model_set(args):
    """(label, path, static batch?) for every model, building the zoo ones once."""
    with contextlib.redirect_stdout(sys.stderr):  # stdout is for the report
        models = [(name, model_zoo.build(name, args.model_dir), False) for name in ZOO]
    for file in sorted(os.listdir(LIGHT_DIR)):
        if file.endswith(".onnx"):
            models.append((file[:-5], os.path.join(LIGHT_DIR, file), True))
    if args.models:
        models = [m for m in models if any(s in m[0] for s in args.models)]
    return models


def prepare(label, path, static, batch, model_dir):
    """The file to bench, the --batch and --dim values, its FLOPs, or an "n/a" reason."""
    model = onnx.load(path)
    values = {0: batch}
    dims = []
    if label == "bert_encoder":
        values["seq"] = BERT_SEQUENCE
        dims = [("seq", BERT_SEQUENCE)]
    first_dims = [i.type.tensor_type.shape.dim[0] for i in real_inputs(model.graph)
                  if i.type.tensor_type.shape.dim]
    if static and batch != 1:
        if not all(d.HasField("dim_value") and d.dim_value == 1 for d in first_dims):
            return None, f"n/a: no batch dim of 1 to set to {batch}"
        copy = set_dims(model, {0: batch})
        try:
            inferred = infer(copy)
        except Exception as e:  # shape inference failed: a hard-coded batch inside
            return None, f"n/a: batch {batch} does not fit the graph ({str(e).splitlines()[0]})"
        outputs = shapes_of(inferred)
        if any(outputs.get(o.name, [None])[:1] != [batch] for o in copy.graph.output):
            return None, f"n/a: the outputs do not follow a batch of {batch}"
        out = os.path.join(model_dir, f"{label}_batch{batch}.onnx")
        onnx.save(copy, out)
        return {"path": out, "batch": None, "dims": dims, "flops": count_flops(inferred)}, None
    try:
        flops = count_flops(infer(set_dims(model, values)))
    except Exception:
        flops = None
    symbolic = any(not d.HasField("dim_value") for d in first_dims)
    return {"path": path, "batch": batch if symbolic else None, "dims": dims,
            "flops": flops}, None


def fmt(value, spec, missing="-"):
    return missing if value is None else format(value, spec)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="batch 1, threads 2, fewer iterations")
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    parser.add_argument("--save", help="also write the JSON report to this file")
    parser.add_argument("--models", nargs="*", help="only models whose name has one of these")
    parser.add_argument("--unihal", default=os.path.join(ROOT, "build", "bin", "unihal"))
    parser.add_argument("--python", help="Python with onnxruntime (passed to unihal --python)")
    parser.add_argument("--model-dir", default=os.path.join(ROOT, "out", "bench_models"))
    parser.add_argument("--iterations", type=int, help="timed runs per side (10, quick 5)")
    parser.add_argument("--warmup", type=int, help="untimed runs per side first (2, quick 1)")
    parser.add_argument("--batches", type=int, nargs="+", help="batch sizes (1 8, quick 1)")
    parser.add_argument("--threads", type=int, nargs="+", help="thread counts (1 2, quick 2)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per row")
    parser.add_argument("--repeat", type=int, default=1,
                        help="passes over the model set; each row reports its median-ratio pass "
                             "(for machines whose speed swings from minute to minute)")
    args = parser.parse_args()
    args.iterations = args.iterations or (5 if args.quick else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    if not os.access(args.unihal, os.X_OK):
        sys.exit(f"models.py: error: {args.unihal} is missing; run 'make build' first")
    os.makedirs(args.model_dir, exist_ok=True)
    batches, thread_counts = ((1,), (2,)) if args.quick else ((1, 8), (1, 2))
    batches, thread_counts = args.batches or batches, args.threads or thread_counts
    runner = Runner(args)
    started = time.time()
    log = sys.stderr

    probe_path = os.path.join(args.model_dir, f"probe_matmul_{PROBE_SIZE}.onnx")
    probe_flops = probe_model(probe_path, PROBE_SIZE)
    probes = {}
    for threads in thread_counts:
        r = runner.bench(probe_path, threads, iterations=max(3, args.iterations // 2), warmup=1)
        if r and "error" not in r:
            ours, theirs = probe_flops / r["unihal_ms"] / 1e6, probe_flops / r["onnxruntime_ms"] / 1e6
            probes[threads] = {"threads": threads, "unihal_gflops": ours,
                               "onnxruntime_gflops": theirs, "gflops": max(ours, theirs)}
        else:
            probes[threads] = {"threads": threads, "error": (r or {}).get("error")}
        print(f"probe, {threads} threads: {probes[threads]}", file=log)

    passes = {}  # (model, batch, threads) -> one row per pass
    versions = set()
    for repetition in range(max(1, args.repeat)):
        for label, path, static in model_set(args):
            for batch in batches:
                prepared, skip = prepare(label, path, static, batch, args.model_dir)
                for threads in thread_counts:
                    row = {"model": label, "batch": batch, "threads": threads}
                    if skip:
                        row["skipped"] = skip
                    else:
                        r = runner.bench(prepared["path"], threads, prepared["batch"],
                                         prepared["dims"]) or {}
                        versions.add(r.get("onnxruntime_version"))
                        row.update({k: r.get(k) for k in ("unihal_ms", "onnxruntime_ms", "ratio",
                                                          "max_rel_error", "unihal_p90_ms",
                                                          "onnxruntime_p90_ms", "outputs_agree")})
                        row["gflop"] = prepared["flops"] / 1e9 if prepared["flops"] else None
                        if row["gflop"] and row["unihal_ms"]:
                            row["unihal_gflops"] = row["gflop"] / row["unihal_ms"] * 1e3
                            row["onnxruntime_gflops"] = row["gflop"] / row["onnxruntime_ms"] * 1e3
                        if "error" in r:
                            row["error"] = r["error"]
                    passes.setdefault((label, batch, threads), []).append(row)
                    print(f"pass {repetition + 1}: {label} batch {batch} threads {threads}: "
                          f"{row.get('ratio') or row.get('skipped') or row.get('error')}",
                          file=log)
    rows = []
    for runs in passes.values():
        timed = sorted((r for r in runs if r.get("ratio")), key=lambda r: r["ratio"])
        row = dict(timed[(len(timed) - 1) // 2] if timed else runs[-1])
        if len(runs) > 1:
            row["pass_ratios"] = [r.get("ratio") for r in runs]
        rows.append(row)

    ratios = [r["ratio"] for r in rows if r.get("ratio")]
    geomean = math.exp(sum(map(math.log, ratios)) / len(ratios)) if ratios else None
    fractions = []
    for r in rows:
        probe = probes.get(r["threads"], {}).get("gflops")
        if r["model"] in ("resnet50", "light_resnet50") and r.get("unihal_gflops") and probe:
            fractions.append({"model": r["model"], "batch": r["batch"], "threads": r["threads"],
                              "gflop_per_run": r["gflop"],
                              "unihal_gflops": r["unihal_gflops"], "probe_gflops": probe,
                              "fraction_of_probe": r["unihal_gflops"] / probe,
                              "onnxruntime_fraction_of_probe": r["onnxruntime_gflops"] / probe})
    versions.discard(None)
    report = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": machine(), "onnxruntime_version": ", ".join(sorted(versions)) or None,
              "quick": args.quick, "iterations": args.iterations, "warmup": args.warmup,
              "repeat": args.repeat,
              "wall_s": round(time.time() - started, 1), "probe": list(probes.values()),
              "rows": rows, "geomean_ratio": geomean, "resnet50_peak_fraction": fractions}
    if args.save:
        with open(args.save, "w") as f:
            json.dump(report, f, indent=2)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['date']}, {report['machine']['cpu']}, {report['machine']['cores']} cores, "
          f"onnxruntime {report['onnxruntime_version']}, {args.iterations} iterations per side "
          f"after {args.warmup} warm-up, {report['wall_s']} s")
    repeated = args.repeat > 1
    extra = (" ratio of each pass |", " --- |") if repeated else ("", "")
    print("| model | batch | threads | unihal ms | ORT ms | ratio | max rel error | GFLOP |" +
          extra[0])
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" + extra[1])
    for r in rows:
        note = r.get("skipped") or r.get("error")
        if r.get("skipped") or r.get("unihal_ms") is None:
            print(f"| {r['model']} | {r['batch']} | {r['threads']} | {note} | | | | |" +
                  (" |" if repeated else ""))
            continue
        each = (" " + " ".join(fmt(x, ".2f") for x in r.get("pass_ratios", [])) + " |"
                if repeated else "")
        print(f"| {r['model']} | {r['batch']} | {r['threads']} | {fmt(r['unihal_ms'], '.2f')} | "
              f"{fmt(r['onnxruntime_ms'], '.2f')} | {fmt(r['ratio'], '.2f')} | "
              f"{fmt(r['max_rel_error'], '.2g')}{' (DISAGREE)' if note else ''} | "
              f"{fmt(r.get('gflop'), '.2f')} |{each}")
    print(f"\ngeometric mean ratio unihal/ORT: {fmt(geomean, '.2f')} over {len(ratios)} rows "
          "(lower is better; target <= 0.9 on each model)")
    for p in report["probe"]:
        if "gflops" in p:
            print(f"probe {PROBE_SIZE}^3 MatMul, {p['threads']} threads: unihal "
                  f"{p['unihal_gflops']:.1f} GFLOP/s, ORT {p['onnxruntime_gflops']:.1f} GFLOP/s")
        else:
            print(f"probe, {p['threads']} threads: {p.get('error')}")
    for f in fractions:
        print(f"{f['model']} batch {f['batch']}, {f['threads']} threads: "
              f"{f['gflop_per_run']:.2f} GFLOP per run, unihal {f['unihal_gflops']:.1f} GFLOP/s = "
              f"{f['fraction_of_probe']:.0%} of the probe (ORT "
              f"{f['onnxruntime_fraction_of_probe']:.0%}; target >= 70%)")


if __name__ == "__main__":
    main()
