"""One configuration: the experiment notebook's parameters cell, `RunConfig`, `siakit run` and `siakit score`
flags, and `ScoreConfig` agree field by field, each default written once."""
import argparse
import ast
import dataclasses
from pathlib import Path

import pytest

from siakit.experiment.commands import SCORE_NO_FLAG, SCORE_SHARED, register
from siakit.experiment.config import RunConfig
from siakit.report.jobs import PAGE_KEYS
from siakit.scorer.score import ScoreConfig

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "10_experiment.md"


def parameters_cell(text: str) -> list[tuple[str, object]]:
    """(name, value) of each assignment in the MyST code cell tagged `parameters`, in order."""
    start = text.index(":tags: [parameters")
    code = text[text.index("\n", start) + 1: text.index("```", start)]
    return [(node.targets[0].id, ast.literal_eval(node.value)) for node in ast.parse(code).body
            if isinstance(node, ast.Assign)]


def score_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser


def test_parameters_cell_parser_reads_names_and_values():
    text = "```{code-cell} ipython3\n:tags: [parameters, hide-input]\n\nn = 3  # c\nx = None\n```\n"
    assert parameters_cell(text) == [("n", 3), ("x", None)]


def test_notebook_parameters_are_run_config_field_by_field():
    cell = parameters_cell(NOTEBOOK.read_text())
    keys = RunConfig.keys()
    assert [name for name, _ in cell[: len(keys)]] == keys  # the same fields, in the dataclass's order
    defaults = RunConfig()
    for name, value in cell[: len(keys)]:
        assert value == getattr(defaults, name), f"10_experiment.md: {name} = {value!r}, RunConfig: {getattr(defaults, name)!r}"
    # the rest are the page's own parameters: those a runs file may set, and the summary path the runner sets
    assert {name for name, _ in cell[len(keys):]} == PAGE_KEYS | {"summary_path"}


def test_run_config_takes_the_scorer_defaults_from_score_config():
    run, score = RunConfig(), ScoreConfig()
    assert (run.method, run.candidate_samples, run.candidate_mentions, run.terminated, run.estimator) == (
        score.method, score.candidate_samples, score.candidate_mentions, score.terminated, score.estimator)
    assert run.samples == score.rollout_m == 16
    assert run.score_overrides() == {}


def test_every_score_config_field_has_a_score_flag_with_its_default():
    args = score_parser().parse_args(["score", "--model", "m", "--traces", "t.jsonl", "--out", "o.parquet"])
    defaults = ScoreConfig()
    for f in dataclasses.fields(ScoreConfig):
        if f.name in SCORE_NO_FLAG:
            continue
        dest = SCORE_SHARED.get(f.name, f.name)
        expected = defaults.rollout_m if f.name == "samples" else f.default  # samples: rollout_m's old name
        assert getattr(args, dest) == expected, f"--{dest}: {getattr(args, dest)!r} != ScoreConfig.{f.name} {expected!r}"
    assert set(SCORE_NO_FLAG) == {"progress"}


@pytest.mark.parametrize("flags, field, value", [
    (["--samples", "3"], "rollout_m", 3), (["--rollout-m", "5"], "rollout_m", 5),
    (["--no-terminated"], "terminated", False), (["--miller-madow"], "miller_madow", True),
    (["--rollout-at", "0.25,0.5"], "rollout_at", (0.25, 0.5)), (["--enumerate-leads", ":,-"], "enumerate_leads", (":", "-")),
    (["--sample-max-new-tokens", "9"], "max_new_tokens", 9), (["--mask", "dense"], "mask", "dense")])
def test_score_flags_parse_to_score_config_values(flags, field, value):
    args = score_parser().parse_args(["score", "--model", "m", "--traces", "t", "--out", "o", *flags])
    assert getattr(args, field) == value


def test_score_kwargs_record_the_old_keys_and_only_changed_new_ones():
    from siakit.experiment.commands import _score_kwargs

    parse = score_parser().parse_args
    base = ["score", "--model", "m", "--traces", "t", "--out", "o"]
    assert _score_kwargs(parse(base)) == {
        "method": "auto", "cue": None, "candidate_samples": 0, "candidate_mentions": 8, "samples": 16,
        "max_new_tokens": 256, "candidate_max_new_tokens": 256, "temperature": 1.0, "miller_madow": False,
        "seed": 0, "pack_tokens": 2048, "truncate": False, "enumerate_epsilon": 0.01, "enumerate_max_nodes": 256}
    changed = _score_kwargs(parse(base + ["--no-terminated", "--rollout-at", "0.5", "--samples", "3",
                                          "--sample-max-new-tokens", "64", "--mask", "dense"]))
    assert {k: changed[k] for k in ("terminated", "rollout_at", "samples", "candidate_max_new_tokens", "mask")} == {
        "terminated": False, "rollout_at": (0.5,), "samples": 3, "candidate_max_new_tokens": 64, "mask": "dense"}
    assert ScoreConfig(**changed).rollout_m == 16 and ScoreConfig(**changed).samples == 3
