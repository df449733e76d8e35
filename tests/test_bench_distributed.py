"""`siakit bench --distributed`: 2 gloo processes against 1 on the tiny model, with the same scores."""
import json

import numpy as np
import pandas as pd
import pytest

from siakit.cli import main


def test_distributed_bench_reports_both_worlds_and_identical_scores(capsys, tmp_path, monkeypatch):
    from siakit.data.traces import read_traces
    from siakit.experiment import bench_distributed
    from siakit.models.loading import load_model
    from siakit.scorer.score import score_traces

    real = bench_distributed.run  # keep the launches' files, to check the scores ourselves
    monkeypatch.setattr(bench_distributed, "run", lambda *a, **kw: real(*a, keep=tmp_path, **kw))
    assert main(["bench", "--distributed", "--traces", "6", "--repeats", "1", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["kind"] == "distributed" and row["traces"] == 6
    assert row["wall_s_1"] > 0 and row["wall_s_2"] > 0 and row["score_s_1"] > 0 and row["score_s_2"] > 0
    # the ratio is of the unrounded times; the reported times are rounded to the millisecond
    assert row["score_ratio"] == pytest.approx(row["score_s_1"] / row["score_s_2"], rel=0.1)
    assert len(row["score_s_each"]["1"]) == len(row["score_s_each"]["2"]) == 1  # one value per repeat

    one, two = (pd.read_parquet(tmp_path / f"scores-{w}.parquet") for w in (1, 2))
    pd.testing.assert_frame_equal(one, two, check_exact=True)  # 2 ranks give the 1-rank scores bit for bit
    assert row["bit_identical"] is True
    assert sorted(one["id"].unique()) == [f"t{i}" for i in range(6)] and (one.groupby("id").size() == 7).all()
    # and they are the scores of the saved model in this process, all traces in one call
    lm = load_model(str(tmp_path / "model"))
    here = score_traces(lm, read_traces(tmp_path / "traces.jsonl"), estimator="readout", progress=False)
    here = here.sort_values(["id", "k"], kind="stable").reset_index(drop=True)
    assert list(here[["id", "k"]].itertuples(index=False)) == list(one[["id", "k"]].itertuples(index=False))
    for column in ("entropy", "gold_logprob"):  # float32 sums packed differently: equal to ~1e-4 nats
        gap = float(np.abs(one[column] - here[column]).max())
        assert gap < 1e-3, f"{column}: largest gap {gap}"
