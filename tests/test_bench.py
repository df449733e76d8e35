"""`siakit bench` smoke form: every method runs on the tiny config and agrees with naive."""
import json

import pytest
import torch

from siakit.scorer import bench
@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """conftest's `one_thread` for every test here: it also restores the thread count that
    `bench.main(["--threads", ...])` changes globally."""
    yield


def test_bench_smoke_reports_speed_and_agreement(capsys):
    assert bench.main(["--device", "cpu", "--preset", "smoke", "--json", "--repeats", "1", "--threads", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["kind"] == "env" and lines[0]["torch"] == torch.__version__
    rows = {r["method"]: r for r in lines[1:]}
    assert set(rows) == {"naive", "batched", "kv", "tree", "packed", "kvtree"}
    for name, row in rows.items():
        assert "error" not in row, row
        assert row["max_abs_dentropy"] <= 1e-4, (name, row["max_abs_dentropy"])  # float32, readout
        assert row["max_abs_dentropy_vocab"] <= 1e-4, (name, row["max_abs_dentropy_vocab"])
        assert row["per_trace_s"] > 0 and row["tokens_per_s"] > 0 and row["tflops"] > 0
    assert rows["naive"]["speedup_vs_naive"] == pytest.approx(1.0)


def test_bench_table_and_a_failing_method_does_not_stop_the_suite(capsys, monkeypatch):
    real = bench._runner

    def broken(model, name):
        if name == "kv":
            def fail(layouts):
                raise RuntimeError("simulated kernel failure")
            return fail
        return real(model, name)

    monkeypatch.setattr(bench, "_runner", broken)
    assert bench.main(["--device", "cpu", "--preset", "smoke", "--repeats", "1", "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    assert "ERROR RuntimeError: simulated kernel failure" in out and "| kvtree |" in out
