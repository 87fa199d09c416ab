"""CI's conformance gate: every ONNX node case in expected_pass.txt still passes on its device.

A case that stays unsupported does not fail this test; one that passed before and now fails
(or crashes, or hangs) does. `make conformance` refreshes the list and docs/conformance.md.
"""
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def test_no_expected_case_regresses():
    proc = subprocess.run([sys.executable, str(HERE / "conformance.py"), "--check"],
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr


def test_expected_list_is_not_empty():
    entries = [line for line in (HERE / "expected_pass.txt").read_text().splitlines()
               if line and not line.startswith("#")]
    assert len(entries) > 600, "expected_pass.txt lost its entries"
