"""The shuffled-steps null: line order permuted, answer line kept, re-scored by a (tiny) model."""
import numpy as np
import pandas as pd
import pytest

from siakit.analysis.step_shuffle import compare_shuffled, shuffle_reasoning, shuffled_traces, step_shuffle_null
from siakit.data.traces import Trace


def test_shuffle_keeps_lines_frames_and_answer_line():
    t = Trace(id="a", prompt="Q", steps=["Step 1", "\nStep 2", "\nStep 3", "\nThe answer is 7."], gold="7")
    s = shuffle_reasoning(t, seed=3)
    assert s.steps[-1] == t.steps[-1] and s.id == "a:steps-shuffled" and s.meta["shuffled_from"] == "a"
    assert sorted(x.strip() for x in s.steps[:-1]) == ["Step 1", "Step 2", "Step 3"]
    assert s.steps[0] == s.steps[0].lstrip() and all(x.startswith("\n") for x in s.steps[1:])  # frames kept
    assert s.meta["order"] != [0, 1, 2] and [t.steps[i].strip() for i in s.meta["order"]] == [x.strip() for x in s.steps[:-1]]
    assert shuffle_reasoning(t, seed=3).steps == s.steps                  # seeded
    with pytest.raises(ValueError, match="reasoning line"):
        shuffle_reasoning(Trace(id="b", prompt="Q", steps=["1 + 1 = 2\n", "The answer is 2."]))
    assert len(shuffled_traces([t, Trace(id="b", prompt="Q", steps=["x", "y"])])) == 1


def test_compare_shuffled_by_hand():
    # original: gold log-prob climbs on each reasoning line; shuffled: flat until the answer line
    rows = []
    for i in range(30):
        for k, lp in enumerate([-4.0, -3.0, -2.0, -0.1]):
            rows.append({"id": f"t{i}", "k": k, "gold_logprob": lp})
    orig = pd.DataFrame(rows)
    shuf = orig.assign(id=orig["id"] + ":steps-shuffled",
                       gold_logprob=np.tile([-4.0, -4.0, -4.0, -0.1], 30))
    r = compare_shuffled(orig, shuf, n_boot=100)
    assert r["observed"] == pytest.approx(1.0) and r["shuffled"] == pytest.approx(0.0)
    assert r["diff"] == pytest.approx(1.0) and r["n"] == 30


def test_step_shuffle_null_rescored_by_a_tiny_model(one_thread):
    from siakit.models.tiny import tiny_model
    from siakit.scorer.score import score_traces

    lm = tiny_model("llama")
    traces = [Trace(id=f"t{i}", prompt=f"What is {i} + 2 + 3?\n", steps=[f"{i} + 2 = {i + 2}\n",
                    f"{i + 2} + 3 = {i + 5}\n", f"The answer is {i + 5}."], gold=str(i + 5), answer=str(i + 5),
                    correct=True) for i in range(4)]
    scores = score_traces(lm, traces, progress=False)
    result, shuffled = step_shuffle_null(lm, scores, traces, n_boot=50, progress=False)
    assert result["n"] == 4 and set(shuffled["id"]) == {f"t{i}:steps-shuffled" for i in range(4)}
    assert np.isfinite(result["observed"]) and np.isfinite(result["shuffled"])
    # same model, same lines: k = 0 (no line) and k = K (all lines + answer in another order) differ only by order
    first = shuffled.sort_values("k").groupby("id").head(1)["entropy"].to_numpy()
    assert np.allclose(first, scores.sort_values("k").groupby("id").head(1)["entropy"].to_numpy())
