"""Problem loaders: published counts on the real files, label mapping, user JSONL, hub fallback, errors."""
import json
import sys
import types
from pathlib import Path

import pytest

from siakit.data.problems import (DATASETS, DataNotFoundError, Problem, ProblemFormatError, data_roots,
                         is_multiple_choice, load_problems)

COUNTS = [("gsm8k", "test", 1319), ("gsm8k", "train", 7473), ("svamp", "test", 1000),
          ("arc-challenge", "test", 1172), ("arc-easy", "test", 2376)]


@pytest.fixture
def real_data(data_root, monkeypatch):
    monkeypatch.setenv("SIAKIT_DATA", str(data_root))
    return data_root


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    """Nothing local: SIAKIT_DATA empty folder, and a cwd whose ./data and ../shared/data do not exist."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "work").mkdir()
    monkeypatch.setenv("SIAKIT_DATA", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path


def write_jsonl(path: Path, lines: list) -> str:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return f"jsonl:{path}"


@pytest.mark.parametrize("dataset, split, count", COUNTS)
def test_published_counts(real_data, dataset, split, count):
    problems = load_problems(dataset, split)
    assert len(problems) == count
    assert len({p.id for p in problems}) == count
    assert all(p.question.strip() and p.gold and p.dataset == dataset for p in problems)


def test_gold_texts(real_data):
    gsm = load_problems("gsm8k", n=1)[0]
    assert (gsm.id, gsm.gold, gsm.choices) == ("gsm8k-test-0", "18", None)  # Janet's ducks: #### 18
    svamp = load_problems("svamp", n=1)[0]
    assert (svamp.id, svamp.gold) == ("chal-1", "51")                       # Answer 51.0 -> "51"
    assert svamp.question.startswith("Each pack of dvds") and svamp.question.endswith("each pack?")
    golds = [p.gold for d in ("gsm8k", "svamp") for p in load_problems(d)]
    assert all("," not in g and not g.endswith(".0") for g in golds)


@pytest.mark.parametrize("dataset, numeric, sizes", [
    ("arc-challenge", 22, {3: 4, 5: 3}), ("arc-easy", 97, {3: 7, 5: 4})])
def test_arc_labels(real_data, dataset, numeric, sizes):
    raw = {}
    name = "ARC-Challenge" if dataset == "arc-challenge" else "ARC-Easy"
    for line in open(real_data / "arc" / f"{name}-test.jsonl"):
        r = json.loads(line)
        raw[r["id"]] = r
    problems = load_problems(dataset)
    mapped = [p for p in problems if raw[p.id]["choices"]["label"][0] == "1"]
    assert len(mapped) == numeric
    for p in problems:
        labels = [label for label, _ in p.choices]
        assert labels == [chr(65 + i) for i in range(len(labels))]
        assert p.gold in labels
        r = raw[p.id]  # the gold option's text is unchanged by relabelling
        assert dict(p.choices)[p.gold] == r["choices"]["text"][r["choices"]["label"].index(r["answerKey"])]
    for size, count in sizes.items():
        assert sum(len(p.choices) == size for p in problems) == count
    assert is_multiple_choice(dataset) and not is_multiple_choice("gsm8k")


def test_first_n_and_seeded_sample(real_data):
    all_ = load_problems("svamp")
    assert load_problems("svamp", n=5) == all_[:5]
    a, b = load_problems("svamp", n=20, seed=3), load_problems("svamp", n=20, seed=3)
    assert a == b and len(a) == 20 and a != all_[:20]
    assert [all_.index(p) for p in a] == sorted(all_.index(p) for p in a)  # kept in file order
    assert load_problems("svamp", n=20, seed=4) != a
    assert len(load_problems("svamp", n=5000)) == 1000
    with pytest.raises(ValueError, match="n must be"):
        load_problems("svamp", n=-1)


def test_user_jsonl(tmp_path):
    spec = write_jsonl(tmp_path / "mine.jsonl", [
        {"id": "q1", "question": "Pick one", "gold": "2", "choices": {"label": ["1", "2", "3"], "text": ["x", "y", "z"]}},
        "",  # blank lines are skipped
        {"id": 7, "question": "Pick", "gold": "E", "choices": [["A", "a"], ["B", "b"], ["C", "c"], ["D", "d"], ["E", "e"]]},
    ])
    p = load_problems(spec)
    assert p[0] == Problem("q1", spec, "Pick one", "B", [("A", "x"), ("B", "y"), ("C", "z")])
    assert (p[1].id, p[1].gold, len(p[1].choices)) == ("7", "E", 5)
    assert is_multiple_choice(spec)
    open_spec = write_jsonl(tmp_path / "open.jsonl", [{"id": "a", "question": "1+1?", "gold": "1,000.0"},
                                                      {"id": "b", "question": "2+2?", "gold": 4}])
    assert [q.gold for q in load_problems(open_spec)] == ["1000", "4"]
    assert not is_multiple_choice(open_spec)


@pytest.mark.parametrize("line, message", [
    ('{"id": "a", "question": "Q"', r"bad\.jsonl:2: not valid JSON"),
    ('{"question": "Q", "gold": "1"}', r"bad\.jsonl:2: missing field 'id'"),
    ('{"id": "a", "gold": "1"}', r"bad\.jsonl:2: missing field 'question'"),
    ('{"id": "a", "question": "   ", "gold": "1"}', r"bad\.jsonl:2: field 'question' is empty"),
    ('{"id": "a", "question": "Q"}', r"bad\.jsonl:2: missing field 'gold'"),
    ('{"id": "a", "question": "Q", "gold": "many"}', r"bad\.jsonl:2: field 'gold' is not a number"),
    ('{"id": "a", "question": "Q", "gold": "F", "choices": [["A", "x"], ["B", "y"]]}', r"bad\.jsonl:2: .*'F' is not one of"),
    ('{"id": "a", "question": "Q", "gold": "A", "choices": {"label": ["A"], "text": ["x", "y"]}}', r"bad\.jsonl:2: field 'choices'"),
    ('{"id": "a", "question": "Q", "gold": "A", "choices": "A or B"}', r"bad\.jsonl:2: field 'choices'"),
    ('[1, 2]', r"bad\.jsonl:2: expected a JSON object"),
])
def test_user_jsonl_errors_name_line_and_field(tmp_path, line, message):
    spec = write_jsonl(tmp_path / "bad.jsonl", ['{"id": "ok", "question": "Q", "gold": "1"}', line])
    with pytest.raises(ProblemFormatError, match=message):
        load_problems(spec)


def test_user_jsonl_mixed_kinds_and_missing_file(tmp_path):
    spec = write_jsonl(tmp_path / "mix.jsonl", [{"id": "a", "question": "Q", "gold": "1"},
                                                {"id": "b", "question": "Q", "gold": "A", "choices": [["A", "x"], ["B", "y"]]}])
    with pytest.raises(ProblemFormatError, match="mix.jsonl: mixes"):
        load_problems(spec)
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        load_problems(f"jsonl:{tmp_path / 'nope.jsonl'}")


def test_empty_question_in_benchmark_file_names_line(no_data):
    (no_data / "empty" / "arc").mkdir()
    good = {"id": "x1", "question": "Q?", "choices": {"label": ["A", "B"], "text": ["a", "b"]}, "answerKey": "A"}
    (no_data / "empty" / "arc" / "ARC-Easy-test.jsonl").write_text(
        json.dumps(good) + "\n" + json.dumps({**good, "id": "x2", "question": ""}) + "\n")
    with pytest.raises(ProblemFormatError, match=r"ARC-Easy-test\.jsonl:2: field 'question' is empty"):
        load_problems("arc-easy")
    (no_data / "empty" / "svamp").mkdir()
    (no_data / "empty" / "svamp" / "SVAMP.json").write_text(json.dumps(
        [{"ID": "chal-9", "Body": "", "Question": "How many?", "Answer": 2.0}]))
    with pytest.raises(ProblemFormatError, match=r"SVAMP\.json record 0 \(ID chal-9\): field 'Body'"):
        load_problems("svamp")


def test_unknown_dataset_and_split():
    with pytest.raises(ValueError, match="unknown dataset 'mmlu'.*gsm8k, svamp, arc-easy, arc-challenge"):
        load_problems("mmlu")
    with pytest.raises(ValueError, match="unknown dataset"):
        is_multiple_choice("mmlu")
    with pytest.raises(ValueError, match=r"svamp has no split 'train'"):
        load_problems("svamp", "train")
    assert DATASETS == ("gsm8k", "svamp", "arc-easy", "arc-challenge")


def test_data_roots_order(monkeypatch, tmp_path):
    monkeypatch.setenv("SIAKIT_DATA", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert data_roots() == [tmp_path, tmp_path / "data", tmp_path.parent / "shared" / "data"]
    monkeypatch.delenv("SIAKIT_DATA")
    assert data_roots()[0] == tmp_path / "data"


def fake_datasets(calls: list, tables: dict) -> types.ModuleType:
    module = types.ModuleType("datasets")

    def load_dataset(path, name=None, split=None):
        calls.append((path, name, split))
        return tables[(path, name, split)]
    module.load_dataset = load_dataset
    return module


def test_hub_fallback_with_mocked_datasets(no_data, monkeypatch):
    calls = []
    arc = {"id": "Mercury_1", "question": "Which?", "answerKey": "3",
           "choices": {"label": ["1", "2", "3", "4"], "text": ["a", "b", "c", "d"]}}
    tables = {("openai/gsm8k", "main", "test"): [{"question": "1+1?", "answer": "so\n#### 2"}],
              ("allenai/ai2_arc", "ARC-Challenge", "test"): [arc],
              ("ChilleD/SVAMP", None, "train"): [{"ID": "chal-2", "Body": "B2.", "Question": "Q2?", "Answer": 3.0}],
              ("ChilleD/SVAMP", None, "test"): [{"ID": "chal-1", "Body": "B1.", "Question": "Q1?", "Answer": 2.5}]}
    monkeypatch.setitem(sys.modules, "datasets", fake_datasets(calls, tables))
    assert load_problems("gsm8k") == [Problem("gsm8k-test-0", "gsm8k", "1+1?", "2")]
    assert load_problems("arc-challenge") == [Problem("Mercury_1", "arc-challenge", "Which?", "C",
                                                      [("A", "a"), ("B", "b"), ("C", "c"), ("D", "d")])]
    svamp = load_problems("svamp")
    assert [(p.id, p.question, p.gold) for p in svamp] == [("chal-1", "B1. Q1?", "2.5"), ("chal-2", "B2. Q2?", "3")]
    assert calls[:2] == [("openai/gsm8k", "main", "test"), ("allenai/ai2_arc", "ARC-Challenge", "test")]


def test_all_sources_failed_lists_every_place(no_data, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` raise ImportError
    with pytest.raises(DataNotFoundError) as err:
        load_problems("arc-easy")
    msg = str(err.value)
    for root in data_roots():
        assert str(root / "arc" / "ARC-Easy-test.jsonl") in msg
    assert "allenai/ai2_arc (ARC-Easy) split test: package `datasets` not importable" in msg
    assert isinstance(err.value, FileNotFoundError)

    def offline(*args, **kwargs):
        raise ConnectionError("hub unreachable")
    module = types.ModuleType("datasets")
    module.load_dataset = offline
    monkeypatch.setitem(sys.modules, "datasets", module)
    with pytest.raises(DataNotFoundError, match=r"openai/gsm8k \(main\) split train: ConnectionError: hub unreachable"):
        load_problems("gsm8k", "train")
