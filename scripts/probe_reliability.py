"""Re-measure the hostile-use probes: run every probe of tests/test_reliability.py and count the outcomes.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python scripts/probe_reliability.py [--only NAME ...]

Each probe is one hostile or careless use of the CLI, the results store or the book runner. Outcomes:
"error" (exit status 2, one line naming the file or argument, no traceback), "correct" (the right
result, checked), or what a probe found instead: "traceback", "unclear", "wrong", "loss", "injection",
"hang" (no answer within --timeout seconds).
The second column is what the issue's probe of the old main found for that case ("added": new here).
"""
from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_probes():
    spec = importlib.util.spec_from_file_location("test_reliability", REPO / "tests" / "test_reliability.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["test_reliability"] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", help="probe names to run (default: all)")
    parser.add_argument("--messages", action="store_true", help="print each probe's error messages")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per probe; past it the probe is a 'hang'")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    module = load_probes()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        model = module.save_tiny(Path(scratch) / "models" / "tiny-llama")
        for i, (name, was, probe) in enumerate(module.PROBES):
            if args.only and name not in args.only:
                continue
            tmp = Path(scratch) / f"probe{i}"
            tmp.mkdir()
            started = time.perf_counter()
            module.MESSAGES.clear()
            def hang(signum, frame):  # e.g. an old main opening a named pipe that no one writes
                raise module.Finding("hang", f"no answer in {args.timeout} s")

            signal.signal(signal.SIGALRM, hang)
            signal.alarm(args.timeout)
            try:
                outcome, detail = probe(module.Env(tmp, model)), ""
            except module.Finding as e:
                outcome, detail = e.kind, str(e)
            except Exception as e:  # noqa: BLE001 - a probe that crashes is a finding too
                outcome, detail = "traceback", f"{type(e).__name__}: {e}"
            finally:
                signal.alarm(0)
            rows.append((name, was, outcome, round(time.perf_counter() - started, 1), detail))
            print(f"{name:55s} {was:10s} -> {outcome:10s} {rows[-1][3]:6.1f} s  {detail[:120]}", flush=True)
            for message in module.MESSAGES if args.messages else []:
                print(f"    {message[:300]}")
    counts = Counter(r[2] for r in rows)
    print(f"\n{len(rows)} probes: " + ", ".join(f"{counts[k]} {k}" for k in sorted(counts)))
    return 0 if set(counts) <= {"error", "correct"} else 1


if __name__ == "__main__":
    raise SystemExit(main())
