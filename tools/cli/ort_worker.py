#!/usr/bin/env python3
"""ONNX Runtime worker for `unihal bench --compare onnxruntime`.

The CLI starts it as `PYTHON ort_worker.py` and talks to it over its stdin and stdout, one JSON
object per line each way. Every reply is {"ok": true, ...} or {"ok": false, "error": "..."}.

  (on start)                                  -> {"ok", "onnxruntime": version}
  {"cmd": "load", "model": PATH, "threads": N} -> {"ok", "inputs": [names]}
  {"cmd": "inputs", "files": {NAME: NPY}}     -> {"ok"}
      (a sequence input: a list of NPY, one per element; an empty optional: null)
  {"cmd": "run", "iterations": K}             -> {"ok", "times_ms": [K floats]}
  {"cmd": "outputs", "dir": DIR}              -> {"ok", "outputs": [{"name", "path"}]}
      (a sequence output: "paths", one per element; an empty optional: "none": true)
  {"cmd": "quit"}                             -> (exits)

The session runs on the CPU execution provider with N intra-op threads, one inter-op thread and
sequential execution. Each iteration's time is the wall time of one InferenceSession.run call,
measured with time.perf_counter in this process (the CLI times Session::Run the same way).
"""
import json
import os
import sys
import time


def main():
    # A process inherits the CPU affinity of the thread that started it; the CLI's thread may
    # be bound to one core (an OpenMP runtime told to bind its threads), which would leave ONNX
    # Runtime one core for all its threads. Every core this process may use is allowed again.
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, range(os.cpu_count() or 1))
        except OSError:
            pass  # a cpuset without some of those cores: keep what was inherited
    # Replies go to a private copy of stdout; anything else printing to fd 1 (a library's
    # warnings) goes to stderr instead, so it cannot corrupt the protocol.
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def reply(**fields):
        replies.write(json.dumps(fields) + "\n")

    try:
        import numpy as np
        import onnxruntime as ort
    except Exception as e:  # ImportError, or a broken installation
        reply(ok=False, error=f"{type(e).__name__}: {e}")
        return
    reply(ok=True, onnxruntime=ort.__version__, python=sys.executable)

    def load_value(files):
        if files is None:
            return None
        if isinstance(files, list):
            return [np.load(path) for path in files]
        return np.load(files)

    def save_array(path, value):
        # asarray, not ascontiguousarray: that one makes a 0-d output 1-d.
        np.save(path, np.asarray(value, order="C"))
        return path

    session = None
    feed = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            cmd = request.get("cmd")
            if cmd == "quit":
                return
            if cmd == "load":
                options = ort.SessionOptions()
                options.intra_op_num_threads = int(request["threads"])
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                options.log_severity_level = 3  # errors only
                session = ort.InferenceSession(request["model"], options,
                                               providers=["CPUExecutionProvider"])
                reply(ok=True, inputs=[i.name for i in session.get_inputs()])
            elif session is None:
                reply(ok=False, error=f"'{cmd}' before 'load'")
            elif cmd == "inputs":
                feed = {name: load_value(files) for name, files in request["files"].items()}
                reply(ok=True)
            elif cmd == "run":
                times = []
                for _ in range(int(request["iterations"])):
                    start = time.perf_counter()
                    session.run(None, feed)
                    times.append((time.perf_counter() - start) * 1e3)
                reply(ok=True, times_ms=times)
            elif cmd == "outputs":
                names = [o.name for o in session.get_outputs()]
                written = []
                for i, (name, value) in enumerate(zip(names, session.run(None, feed))):
                    stem = os.path.join(request["dir"], f"ort_output_{i}")
                    if value is None:
                        written.append({"name": name, "none": True})
                    elif isinstance(value, list):
                        paths = [save_array(f"{stem}_{e}.npy", v) for e, v in enumerate(value)]
                        written.append({"name": name, "paths": paths})
                    else:
                        written.append({"name": name, "path": save_array(f"{stem}.npy", value)})
                reply(ok=True, outputs=written)
            else:
                reply(ok=False, error=f"unknown command {cmd!r}")
        except Exception as e:
            reply(ok=False, error=str(e) or type(e).__name__)


if __name__ == "__main__":
    main()
