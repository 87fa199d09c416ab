#!/usr/bin/env python3
"""ONNX node conformance: every case of ONNX's backend node test data on every unihal device.

Runs build/bin/onnx_node_runner per device (restarting it after a crash or a hang, which then
count as failures of that case), records pass / fail / unsupported with the reason for each
case, writes the results as JSON and docs/conformance.md (tables by device and by op), and
compares them with the checked-in list of cases that passed before (expected_pass.txt).

  conformance.py                    run, write results and docs, report changes
  conformance.py --check            also exit 1 when an expected case no longer passes
  conformance.py --update-expected  also add the cases that pass now to the expected list
"""
import argparse
import collections
import datetime
import fnmatch
import json
import os
import pathlib
import platform
import re
import selectors
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_RUNNER = ROOT / "build" / "bin" / "onnx_node_runner"
DEFAULT_CLI = ROOT / "build" / "bin" / "unihal"
DEFAULT_EXPECTED = HERE / "expected_pass.txt"
NONDETERMINISTIC = HERE / "nondeterministic.txt"
DEFAULT_RESULTS = ROOT / "build" / "conformance" / "results.json"
DEFAULT_MARKDOWN = ROOT / "docs" / "conformance.md"
DEBIAN_TESTDATA = pathlib.Path("/usr/share/libonnx-testdata/data/node")
CASE_TIMEOUT_S = 120  # a case with no answer in this long is recorded as hung


def find_data_dir(explicit):
    """onnx==1.22.0's node data from PyPI, else Debian's libonnx-testdata."""
    if explicit:
        return pathlib.Path(explicit)
    try:
        import onnx  # noqa: PLC0415 (optional: Debian's data works without it)

        pypi = pathlib.Path(onnx.__file__).parent / "backend" / "test" / "data" / "node"
        if pypi.is_dir():
            return pypi
    except ImportError:
        pass
    if DEBIAN_TESTDATA.is_dir():
        return DEBIAN_TESTDATA
    sys.exit("conformance: no ONNX node test data; install onnx==1.22.0 into .venv "
             "(make setup) or Debian's libonnx-testdata, or pass --data DIR")


def sim_npu_flags(profile):
    """The runner's and CLI's flags that enable the simulated NPU (none when profile is 'none')."""
    return [] if profile == "none" else ["--sim-npu", profile]


def list_devices(cli, wanted, sim_npu):
    command = [str(cli), "devices", "--json", *sim_npu_flags(sim_npu)]
    report = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    ids = [d["id"] for d in report["devices"]]
    if wanted == "all":
        return ids
    chosen = wanted.split(",")
    unknown = [d for d in chosen if d not in ids]
    if unknown:
        sys.exit(f"conformance: no device {', '.join(unknown)} here; devices: {', '.join(ids)}")
    return chosen


def run_device(runner, device, cases, progress, sim_npu):
    """{case name: (result, reason)} for every case on one device."""
    results = {}
    pending = list(cases)
    while pending:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
            listing.write("\n".join(str(c) for c in pending) + "\n")
        proc = subprocess.Popen([str(runner), *sim_npu_flags(sim_npu), device, "--cases-from",
                                 listing.name],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        hung = False
        while True:
            if not selector.select(timeout=CASE_TIMEOUT_S):
                hung = True
                proc.kill()
                break
            line = proc.stdout.readline()
            if not line:
                break
            record = json.loads(line)
            results[record["case"]] = (record["result"], record["reason"])
            progress(len(results), len(cases))
        code = proc.wait()
        os.unlink(listing.name)
        done = {c for c in pending if c.name in results}
        pending = [c for c in pending if c not in done]
        if pending:  # the runner died or hung on the first case it did not answer
            culprit = pending.pop(0)
            why = (f"hung: no result within {CASE_TIMEOUT_S} s" if hung
                   else f"crashed the runner (exit code {code})")
            results[culprit.name] = ("fail", why)
    return results


def snake_case(name):
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def op_of_cases(case_dirs):
    """Case name -> the op it tests: the op whose snake_case name is the longest prefix of the
    case name (test_reduce_sum_keepdims -> ReduceSum), else the model's first node's op."""
    import onnx  # noqa: PLC0415

    op_types = set()
    first_op = {}
    for case in case_dirs:
        try:
            model = onnx.load(str(case / "model.onnx"), load_external_data=False)
        except Exception:  # noqa: BLE001 (a case whose model onnx itself cannot read)
            continue
        ops = [n.op_type for n in model.graph.node]
        op_types.update(ops)
        if ops:
            first_op[case.name] = ops[0]
    try:
        op_types.update(s.name for s in onnx.defs.get_all_schemas())
    except AttributeError:
        pass
    by_snake = {snake_case(op): op for op in op_types}
    ops = {}
    for case in case_dirs:
        stem = case.name[len("test_"):]
        best = max((s for s in by_snake if stem == s or stem.startswith(s + "_")), key=len,
                   default=None)
        ops[case.name] = by_snake[best] if best else first_op.get(case.name, "?")
    return ops


def driver_of(device):
    return device.split(":")[0]


def read_expected(path):
    if not path.exists():
        return set()
    return {line.strip() for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")}


def read_nondeterministic():
    """Globs of cases whose expected outputs came from an unreproducible random stream."""
    return [line.split("\t")[0] for line in NONDETERMINISTIC.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def write_expected(path, entries):
    header = ("# Cases that passed on a device's driver (driver/case); CI fails when one of them\n"
              "# stops passing. Regenerated by `make conformance` (which only adds).\n")
    path.write_text(header + "".join(f"{e}\n" for e in sorted(entries)))


def data_label(data_dir):
    """'onnx==1.22.0 backend/test/data/node' for PyPI's data, else the folder."""
    if "site-packages" in data_dir.parts:
        import onnx  # noqa: PLC0415

        return f"onnx=={onnx.__version__} backend/test/data/node"
    return str(data_dir)


def markdown(results, ops, devices, data_dir, machine):
    lines = ["# ONNX node conformance", "",
             f"Every case of ONNX's backend node test data ({data_label(data_dir)}, "
             f"{len(ops)} cases) on every unihal device, by `make conformance` "
             "(tests/onnx_node/conformance.py). Pass: same dtype and shape, values within rtol "
             "1e-3 and atol 1e-7, integers exact (ONNX's rule). Unsupported: unihal says it "
             "cannot run the case (op, dtype or attribute not implemented) at load or run time. "
             "Fail: a wrong answer, an error on a case unihal claims to support, a crash or a "
             "hang. The test_bernoulli* cases can only pass by chance: their expected values come "
             "from a random stream unihal cannot reproduce (tests/onnx_node/nondeterministic.txt); "
             "CI does not guard them. sim-npu is the simulated NPU (SPEC R1.6, profile edge-34): "
             "int8 and fp16 only and a limited op set, so most cases are unsupported there; its "
             "results come from the cpu reference kernels.", "",
             f"Generated {datetime.date.today().isoformat()} on {machine}.", "",
             "## By device", "",
             "| device | pass | fail | unsupported | total | pass rate |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for device in devices:
        counts = collections.Counter(r for r, _ in results[device].values())
        total = sum(counts.values())
        lines.append(f"| {device} | {counts['pass']} | {counts['fail']} | "
                     f"{counts['unsupported']} | {total} | {100.0 * counts['pass'] / total:.1f}% |")
    lines += ["", "## By op", "",
              "Passing cases / cases per device; the reason shown is that of the op's first "
              "case that does not pass.", "",
              "| op | " + " | ".join(devices) + " | first reason |",
              "| --- | " + " | ".join("---:" for _ in devices) + " | --- |"]
    by_op = collections.defaultdict(list)
    for case, op in ops.items():
        by_op[op].append(case)
    for op in sorted(by_op, key=str.lower):
        cells = []
        reason = ""
        for device in devices:
            outcomes = [results[device][c] for c in sorted(by_op[op])]
            cells.append(f"{sum(r == 'pass' for r, _ in outcomes)}/{len(outcomes)}")
            if not reason:
                failing = [(c, r, why) for c, (r, why) in
                           zip(sorted(by_op[op]), outcomes) if r != "pass"]
                if failing:
                    c, r, why = failing[0]
                    short = " ".join(why.split())[:160].replace("|", "\\|")
                    reason = f"{device} {r}: `{c}`: {short}"
        lines.append(f"| {op} | " + " | ".join(cells) + f" | {reason} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runner", default=DEFAULT_RUNNER, type=pathlib.Path)
    parser.add_argument("--cli", default=DEFAULT_CLI, type=pathlib.Path)
    parser.add_argument("--data", help="node test data folder (default: onnx's, else Debian's)")
    parser.add_argument("--devices", default="all", help="comma-separated device ids, or all")
    parser.add_argument("--sim-npu", default="edge-34",
                        help="simulated NPU profile to include as a device (R1.6), or none")
    parser.add_argument("--filter", default="*", help="glob on case names, e.g. 'test_resize*'")
    parser.add_argument("--expected", default=DEFAULT_EXPECTED, type=pathlib.Path)
    parser.add_argument("--results", default=DEFAULT_RESULTS, type=pathlib.Path)
    parser.add_argument("--markdown", type=pathlib.Path,
                        help=f"write the tables here (make conformance: {DEFAULT_MARKDOWN})")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when an expected case no longer passes")
    parser.add_argument("--update-expected", action="store_true",
                        help="add the cases that pass now to the expected list")
    args = parser.parse_args()

    for tool in (args.runner, args.cli):
        if not tool.exists():
            sys.exit(f"conformance: {tool} is missing; run 'make build' first")
    data_dir = find_data_dir(args.data)
    cases = sorted(p for p in data_dir.iterdir()
                   if p.is_dir() and fnmatch.fnmatch(p.name, args.filter))
    if not cases:
        sys.exit(f"conformance: no case in {data_dir} matches '{args.filter}'")
    devices = list_devices(args.cli, args.devices, args.sim_npu)

    results = {}
    for device in devices:
        start = time.monotonic()

        def progress(done, total, device=device):
            if sys.stderr.isatty():
                print(f"\r{device}: {done}/{total}", end="", file=sys.stderr, flush=True)

        results[device] = run_device(args.runner, device, cases, progress, args.sim_npu)
        counts = collections.Counter(r for r, _ in results[device].values())
        print(f"\r{device}: {counts['pass']} pass, {counts['fail']} fail, "
              f"{counts['unsupported']} unsupported of {len(cases)} cases "
              f"({time.monotonic() - start:.0f} s)", file=sys.stderr)

    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(
        {"data": str(data_dir), "devices": devices,
         "results": {d: {c: {"result": r, "reason": why} for c, (r, why) in sorted(res.items())}
                     for d, res in results.items()}}, indent=1))
    if args.markdown:
        machine = f"{platform.node() or 'this machine'} ({platform.machine()}, {os.cpu_count()} cores)"
        args.markdown.write_text(markdown(results, op_of_cases(cases), devices, data_dir, machine))
        print(f"conformance: wrote {args.markdown}", file=sys.stderr)

    random_globs = read_nondeterministic()
    expected = read_expected(args.expected)
    passing = {f"{driver_of(d)}/{c}" for d, res in results.items()
               for c, (r, _) in res.items() if r == "pass"
               and not any(fnmatch.fnmatch(c, g) for g in random_globs)}
    ran = {f"{driver_of(d)}/{c.name}" for d in devices for c in cases}
    regressed = sorted(e for e in expected & ran if e not in passing)
    improved = sorted(passing - expected)
    for entry in regressed:
        driver, case = entry.split("/", 1)
        device = next(d for d in devices if driver_of(d) == driver)
        result, why = results[device][case]
        print(f"REGRESSION {entry}: {result}: {' '.join(why.split())[:300]}", file=sys.stderr)
    if improved:
        print(f"conformance: {len(improved)} case(s) pass that the expected list lacks"
              + ("" if args.update_expected else "; add them with 'make conformance'"),
              file=sys.stderr)
    if args.update_expected:
        write_expected(args.expected, expected | passing)
    if args.check and regressed:
        print(f"conformance: {len(regressed)} case(s) that passed before fail now",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
