"""Your data in any format (siakit.data.tables): CSV, TSV, parquet, Arrow, JSONL, save_to_disk folders
and `hf:NAME[:CONFIG]:SPLIT` from a local datasets cache, with your own column names; one-line errors
for a bad column; `siakit run --dataset my.csv --question-field q --answer-field a` end to end."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from siakit.data.problems import Problem, ProblemFormatError, is_multiple_choice, load_problems
from siakit.data.tables import Fields, is_table, parse_hf

datasets = pytest.importorskip("datasets", reason="tables need `datasets` (the data extra; make install)")

ROWS = {"qid": ["a1", "a2", "a3"], "q": ["Tom has 3 apples and buys 5. How many?", "2 + 2?", "Half of 9?"],
        "a": [8, 4, 4.5]}
EXPECTED = [Problem("a1", "", ROWS["q"][0], "8"), Problem("a2", "", "2 + 2?", "4"),
            Problem("a3", "", "Half of 9?", "4.5")]
FIELDS = Fields(question="q", answer="a", id="qid")


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path, monkeypatch):
    """Keep the datasets cache (which every file load writes) inside the test's folder."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-datasets-cache"))


def _expected(spec: str) -> list[Problem]:
    return [Problem(p.id, spec, p.question, p.gold) for p in EXPECTED]


def _write(kind: str, folder: Path) -> Path:
    frame = pd.DataFrame(ROWS)
    if kind == "csv":
        frame.to_csv(path := folder / "mine.csv", index=False)
    elif kind == "tsv":
        frame.to_csv(path := folder / "mine.tsv", index=False, sep="\t")
    elif kind == "parquet":
        frame.to_parquet(path := folder / "mine.parquet")
    elif kind == "arrow":  # Arrow IPC stream, as datasets writes its own files
        import pyarrow as pa

        table = pa.Table.from_pandas(frame, preserve_index=False)
        with pa.ipc.new_stream(str(path := folder / "mine.arrow"), table.schema) as writer:
            writer.write_table(table)
    elif kind == "jsonl":
        frame.to_json(path := folder / "mine.jsonl", orient="records", lines=True)
    elif kind == "saved":  # DatasetDict.save_to_disk: the split comes from --split
        path = folder / "mine_saved"
        datasets.DatasetDict({"test": datasets.Dataset.from_pandas(frame),
                              "train": datasets.Dataset.from_pandas(frame.iloc[:1])}).save_to_disk(str(path))
    return path


@pytest.mark.parametrize("kind", ["csv", "tsv", "parquet", "arrow", "jsonl", "saved"])
def test_each_kind_of_file_loads_with_its_own_column_names(kind, tmp_path):
    spec = str(_write(kind, tmp_path))
    assert is_table(spec)
    assert load_problems(spec, fields=FIELDS) == _expected(spec)
    assert load_problems(spec, n=2, fields=FIELDS) == _expected(spec)[:2]
    assert not is_multiple_choice(spec, FIELDS)


def test_saved_folder_takes_the_split_and_names_the_splits_it_has(tmp_path):
    spec = str(_write("saved", tmp_path))
    assert [p.id for p in load_problems(spec, split="train", fields=FIELDS)] == ["a1"]
    with pytest.raises(ValueError, match=r"without split 'validation'; its splits: test, train"):
        load_problems(spec, split="validation", fields=FIELDS)


def test_default_column_names_and_row_ids(tmp_path):
    pd.DataFrame({"question": ["1 + 1?", "3 * 3?"], "answer": ["2", "9"]}).to_csv(tmp_path / "d.csv", index=False)
    spec = str(tmp_path / "d.csv")
    assert load_problems(spec) == [Problem("d-0", spec, "1 + 1?", "2"), Problem("d-1", spec, "3 * 3?", "9")]


def test_multiple_choice_from_parquet_lists_and_csv_json_cells(tmp_path):
    frame = pd.DataFrame({"id": ["m1", "m2"], "question": ["Which is a mammal?", "Which is red?"],
                          "options": [["shark", "whale", "trout"], ["grass", "sky", "blood"]],
                          "gold": ["B", "blood"]})  # a label, or the option's own text
    frame.to_parquet(tmp_path / "mc.parquet")
    spec = str(tmp_path / "mc.parquet")
    problems = load_problems(spec, fields=Fields(choices="options"))
    assert problems[0].choices == [("A", "shark"), ("B", "whale"), ("C", "trout")] and problems[0].gold == "B"
    assert problems[1].gold == "C"
    assert is_multiple_choice(spec, Fields(choices="options"))
    from siakit.bench.sizing import RunSize

    sized = lambda fields: RunSize("m__mc", "m-1B", spec, 2, 10, 4, 5, 1.0, fields).tokens  # noqa: E731
    assert sized(Fields(choices="options")) == 2 * 10  # multiple choice: no candidate samples are sized
    frame.assign(options=[json.dumps({"label": ["1", "2", "3"], "text": o}) for o in frame.options],
                 gold=["2", "3"]).to_csv(tmp_path / "mc.csv", index=False)
    assert [p.gold for p in load_problems(str(tmp_path / "mc.csv"), fields=Fields(choices="options"))] == ["B", "C"]


def test_a_bad_column_is_one_line_naming_it_and_the_columns(tmp_path, capsys):
    spec = str(_write("csv", tmp_path))
    with pytest.raises(ProblemFormatError) as error:
        load_problems(spec, fields=Fields(question="text", answer="a"))
    assert str(error.value) == f"{spec}: no column 'text' (--question-field); its columns: qid, q, a"
    with pytest.raises(ProblemFormatError, match=r"no column 'gold' or 'answer' \(set --answer-field\); its columns"):
        load_problems(spec, fields=Fields(question="q"))
    from siakit.cli import main

    assert main(["run", "--model", "smollm2-135m-instruct", "--dataset", spec, "--question-field", "q",
                 "--answer-field", "answer", "--results-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"siakit run: error: {spec}: no column 'answer' (--answer-field); its columns: qid, q, a"]


def test_a_non_numeric_gold_of_an_open_problem_names_the_row(tmp_path):
    pd.DataFrame({"question": ["x?"], "gold": ["seven"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ProblemFormatError, match=r"bad.csv row 0: field 'gold' is not a number \('seven'\)"):
        load_problems(str(tmp_path / "bad.csv"))


def test_parse_hf():
    assert parse_hf("hf:openai/gsm8k:main:test") == ("openai/gsm8k", "main", "test")
    assert parse_hf("hf:org/name:train") == ("org/name", None, "train")
    assert parse_hf("hf:org/name", "validation") == ("org/name", None, "validation")
    with pytest.raises(ValueError, match="hf:NAME"):
        parse_hf("hf:org/name::test")


def _datasets_cache(root: Path, name: str, split: str) -> Path:
    """The datasets cache entry of hub dataset `org/<name>` (what a first online load_dataset leaves):
    <cache>/org___<name>/default/0.0.0/<hash>/{dataset_info.json, <name>-<split>.arrow}, made by
    preparing a local parquet file and moving the prepared entry to the hub dataset's place."""
    source = root / "src.parquet"
    pd.DataFrame(ROWS).to_parquet(source)
    cache = root / "cache"
    datasets.load_dataset("parquet", data_files={split: str(source)}, cache_dir=str(cache))
    (prepared,) = (cache / "parquet").glob("*/*/*/dataset_info.json")
    target = cache / f"org___{name}" / "default" / prepared.parent.parent.name / prepared.parent.name
    target.mkdir(parents=True)
    for f in prepared.parent.glob("*"):
        f.rename(target / (f"{name}-{split}.arrow" if f.suffix == ".arrow" else f.name))
    return cache


def test_hf_spec_loads_from_the_datasets_cache_offline(tmp_path):
    cache = _datasets_cache(tmp_path, "mine", "test")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_DATASETS_CACHE": str(cache),
           "HF_HOME": str(tmp_path / "hf-home"), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    code = ("import json; from siakit.data.problems import load_problems; from siakit.data.tables import Fields\n"
            "for spec in ('hf:org/mine:test', 'hf:org/other:test'):\n"
            "    try: print(json.dumps([p.__dict__ for p in load_problems(spec, fields=Fields('q', 'a', id='qid'))]))\n"
            "    except FileNotFoundError as e: print('ERROR', e)\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    found, missing = out.stdout.strip().splitlines()
    assert json.loads(found) == [p.__dict__ for p in _expected("hf:org/mine:test")]
    assert missing.startswith("ERROR hf:org/other:test: not in the datasets cache and not reachable")
    assert "save it to a file or folder" in missing


def test_siakit_run_on_a_csv_with_its_own_columns(tmp_path, one_thread):
    from siakit.cli import main
    from siakit.models.tiny import tiny_model

    lm = tiny_model("llama")
    lm.model.save_pretrained(tmp_path / "tiny")
    lm.tokenizer.save_pretrained(tmp_path / "tiny")
    spec = str(_write("csv", tmp_path))
    args = ["run", "--model", str(tmp_path / "tiny"), "--dataset", spec, "--question-field", "q",
            "--answer-field", "a", "--id-field", "qid", "--n", "2", "--max-new-tokens", "6",
            "--results-dir", str(tmp_path / "results")]
    assert main(args) == 0
    (run,) = (tmp_path / "results").glob("*/*/traces.jsonl")
    traces = [json.loads(line) for line in run.read_text().splitlines()]
    assert [t["id"] for t in traces] == ["a1", "a2"] and [t["gold"] for t in traces] == ["8", "4"]
    assert traces[0]["dataset"] == spec
