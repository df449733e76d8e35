"""`siakit bench --distributed`: 2 gloo processes against 1 on the tiny model, with the same scores."""
import json

import pytest

from siakit.cli import main


def test_distributed_bench_reports_both_worlds_and_identical_scores(capsys):
    assert main(["bench", "--distributed", "--traces", "6", "--repeats", "1", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["kind"] == "distributed" and row["traces"] == 6 and row["bit_identical"] is True
    assert row["wall_s_1"] > 0 and row["wall_s_2"] > 0 and row["score_s_1"] > 0 and row["score_s_2"] > 0
    # the ratio is of the unrounded times; the reported times are rounded to the millisecond
    assert row["score_ratio"] == pytest.approx(row["score_s_1"] / row["score_s_2"], rel=0.1)
    assert len(row["score_s_each"]["1"]) == len(row["score_s_each"]["2"]) == 1  # one value per repeat
