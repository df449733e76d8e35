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
    mask = [r for r in lines if r["kind"] == "mask"]
    assert len(mask) == 1 and mask[0]["auto"] == "dense" and mask[0]["auto_under_flex_attention"] == "dense"  # CPU
    rows = {r["method"]: r for r in lines if r["kind"] == "method"}
    assert set(rows) == {"naive", "batched", "kv", "kv-grow", "tree", "packed", "kvtree", "causal"}
    for name, row in rows.items():
        assert "error" not in row, row
        assert row["per_trace_s"] > 0 and row["tokens_per_s"] > 0 and row["tflops"] > 0
        assert row["time_vs_causal"] == pytest.approx(row["per_trace_s"] / rows["causal"]["per_trace_s"])
        if name == "causal":  # the ceiling scores nothing
            assert "max_abs_dentropy" not in row
            continue
        assert row["max_abs_dentropy"] <= 1e-4, (name, row["max_abs_dentropy"])  # float32, readout
        assert row["max_abs_dentropy_vocab"] <= 1e-4, (name, row["max_abs_dentropy_vocab"])
        assert row["flops"] / row["pack"] == rows["naive"]["flops"]  # the same useful work per trace
    assert rows["naive"]["speedup_vs_naive"] == pytest.approx(1.0)
    # useful FLOPs are below the all-parameters convention (embeddings do no matmul work)
    assert rows["tree"]["tflops"] < rows["tree"]["tflops_all_params"]


def test_flop_accounting_counts_non_embedding_matmuls_and_allowed_pairs():
    from siakit.scorer.flops import causal_flops, param_counts, tree_attention_pairs, useful_flops
    from siakit.scorer.layout import TraceLayout

    lay = TraceLayout(id="t", ids=[5, 6, 7], bounds=[1, 3], cue=[9], options=[[10, 11]])
    assert tree_attention_pairs(lay) == 6 + (2 + 3) + (4 + 5)  # the docstring's hand count
    model, _ = bench.build_model("tiny", "float32", "cpu")
    counts = param_counts(model)
    assert counts["body"] == counts["total"] - 2 * 4096 * 256 and not counts["tied"]  # untied table + head
    per_pair = 4 * 4 * 4 * 64  # 4 x layers x heads x head_dim
    want = 2 * counts["body"] * lay.n_tokens + 2 * counts["head"] * 2 * 2 + per_pair * 20
    assert useful_flops(model, [lay]) == want
    assert causal_flops(model, [7]) == 2 * counts["body"] * 7 + 2 * counts["head"] + per_pair * 28


def test_gpu_preset_has_the_issue16_cases_and_every_label_is_a_variant():
    for name, cases in bench.PRESETS.items():
        for case in cases:
            assert set(case.methods) <= set(bench.VARIANTS), name
    gpu = {m for case in bench.PRESETS["gpu"] for m in case.methods}
    assert {"packed-rows-flex", "tree-flex", "kv-grow", "causal", "packed-rows-flex-compiled", "naive"} <= gpu
    assert any(case.T == 16384 and "causal" in case.methods for case in bench.PRESETS["gpu"])
    assert bench.VARIANTS["packed-rows-flex"].attn == "flex_attention"


def test_targets_are_judged_from_rows():
    base = {"kind": "method", "shape": "llama-1b", "T": 1024, "K": 32, "dtype": "bfloat16", "pack": 8}
    rows = [{**base, "method": "packed-rows-flex", "frac_peak": 0.62, "speedup_vs_naive": 90.0},
            {**base, "method": "causal", "frac_peak": 0.70, "speedup_vs_naive": 120.0},  # not a tree row
            {**base, "T": 16384, "K": 64, "method": "tree-flex", "time_vs_causal": 1.1, "mem_vs_causal": 1.4}]
    got = {t["target"].split(",")[0][:20]: (t["value"], t["met"]) for t in bench.targets(rows)}
    assert got["packed tree >= 60% o"] == (0.62, True)
    assert got[">= 100x naive per tr"] == (90.0, False)
    assert got["T=16k K=64 within 1."] == (1.1, True)
    assert got["T=16k K=64 peak memo"] == (1.4, False)


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
