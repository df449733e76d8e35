"""`run_experiment` (what `siakit run` and the book call): generate + score + store, resumable."""
import json

import pytest

from siakit.experiment.config import RunConfig

import siakit.experiment.pipeline as pipeline
import siakit.scorer.score as scorer
from siakit.models.tiny import tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def lm():
    return tiny_model("llama")


@pytest.fixture()
def problems_file(tmp_path):
    path = tmp_path / "problems.jsonl"
    rows = [{"id": f"p{i}", "question": f"What is {i} + {i}?", "gold": str(2 * i)} for i in range(1, 5)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f"jsonl:{path}"


def run(lm, dataset, tmp_path, n, **kw):
    return pipeline.run_experiment(model="tiny-llama", dataset=dataset, n=n, max_new_tokens=6,
                                   results_dir=str(tmp_path / "results"), lm=lm, progress=False, batch_size=2,
                                   score_batch=1, **kw)


def test_run_stores_traces_scores_and_manifest(lm, problems_file, tmp_path):
    result = run(lm, problems_file, tmp_path, 2)
    assert [t.id for t in result["traces"]] == ["p1", "p2"]
    scores = result["scores"]
    assert set(scores.id) == {"p1", "p2"} and not scores.duplicated(["id", "k", "estimator"]).any()
    manifest = result["store"].read_manifest()
    assert manifest["status"] == "done" and manifest["model"] == "tiny-llama"
    assert manifest["versions"]["torch"] and manifest["summary"]["n"] == 2
    assert (result["store"].path / "traces.jsonl").read_text().count("\n") == 2


def test_interrupted_scoring_resumes_without_duplicates(lm, problems_file, tmp_path, monkeypatch):
    real, calls = scorer.score_traces, []

    def flaky(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed while scoring the second trace
        return real(*args, **kw)

    monkeypatch.setattr(scorer, "score_traces", flaky)
    with pytest.raises(KeyboardInterrupt):
        run(lm, problems_file, tmp_path, 3)
    monkeypatch.setattr(scorer, "score_traces", real)
    again = run(lm, problems_file, tmp_path, 3)
    assert set(again["scores"].id) == {"p1", "p2", "p3"}
    assert not again["scores"].duplicated(["id", "k", "estimator"]).any()


def test_n_extends_or_reads_a_prefix_but_other_changes_are_refused(lm, problems_file, tmp_path):
    first = run(lm, problems_file, tmp_path, 2)
    more = run(lm, problems_file, tmp_path, 4)
    assert [t.id for t in more["traces"]] == ["p1", "p2", "p3", "p4"]
    assert more["traces"][:2] == first["traces"]  # stored traces reused, not regenerated
    fewer = run(lm, problems_file, tmp_path, 1)
    assert [t.id for t in fewer["traces"]] == ["p1"] and set(fewer["scores"].id) == {"p1"}
    with pytest.raises(ValueError, match="max_new_tokens: stored 6 != requested 9"):
        pipeline.run_experiment(RunConfig(model="tiny-llama", dataset=problems_file, n=2, max_new_tokens=9,
                                          results_dir=str(tmp_path / "results")), lm=lm, progress=False)
    with pytest.raises(ValueError, match="n must be >= 1"):
        run(lm, problems_file, tmp_path, 0)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['max_new_token'\]"):
        RunConfig.from_dict({"max_new_token": 9}, where="runs.yml: runs[0]")


def test_a_run_config_is_the_same_in_every_form(tmp_path):
    """runs YAML values, papermill parameters, `siakit run` flags: one dataclass, one set of keys."""
    import argparse

    from siakit.experiment.config import add_run_flags, from_flags

    parser = argparse.ArgumentParser()
    add_run_flags(parser)
    args = parser.parse_args(["--model", "m", "--dataset", "gsm8k", "--n", "3", "--candidate-samples", "2",
                              "--results", "r", "--gen-temperature", "0.5"])
    cfg = from_flags(args)
    assert cfg == RunConfig.from_dict({"model": "m", "dataset": "gsm8k", "n": 3, "candidate_samples": 2,
                                       "results_dir": "r", "temperature": 0.5})
    assert cfg.score_config().candidate_samples == 2 and cfg.result_parameters()["score"] == {"candidate_samples": 2}


def test_a_testbed_dataset_runs_with_its_own_n(lm, tmp_path):
    # rg:chain_sum is generated: asked for all of it, its 2-term rung has too few distinct problems
    result = run(lm, "rg:chain_sum", tmp_path, 3)
    assert len(result["traces"]) == 3 and len({t.id for t in result["traces"]}) == 3
    assert result["store"].read_manifest()["summary"]["n"] == 3
