"""The example lines on the book's "Run it on your model" page parse with the real readers."""
import json
import re
from pathlib import Path

import yaml

from siakit.data.problems import load_problems
from siakit.data.traces import read_traces

PAGE = Path(__file__).resolve().parents[1] / "book" / "reproducing.md"
ROOT = PAGE.parents[1]


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_problem_examples_load_as_jsonl_problems(tmp_path):
    problems = [b for b in _blocks("json") if '"question"' in b]
    assert len(problems) == 2
    for i, block in enumerate(problems):
        path = tmp_path / f"p{i}.jsonl"
        path.write_text(block)
        (p,) = load_problems(f"jsonl:{path}")
        record = json.loads(block)
        assert p.id == record["id"]
        if "choices" in record:
            assert p.choices == [("A", "nucleus"), ("B", "mitochondrion"), ("C", "ribosome")] and p.gold == "B"
        else:
            assert p.choices is None and p.gold == "85"


def test_trace_example_reads_as_a_trace(tmp_path):
    (block,) = [b for b in _blocks("json") if '"steps"' in b]
    path = tmp_path / "t.jsonl"
    path.write_text(block)
    (trace,) = read_traces(path)
    assert trace.id == "gsm8k-test-0" and len(trace.steps) == 3 and trace.correct is True


def test_runs_example_is_the_default_runs_file():
    (block,) = _blocks("yaml")
    assert yaml.safe_load(block) == yaml.safe_load((ROOT / "runs" / "default.yml").read_text())
