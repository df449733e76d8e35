"""The traces interchange format and step splitting."""
import json

import pytest
from hypothesis import given, strategies as st

from siakit.data.traces import Trace, TraceFormatError, read_traces, split_steps, write_traces


@given(st.text(alphabet=st.sampled_from(list("ab .!?\n\t1")), max_size=80))
def test_split_steps_round_trips_exactly(text):
    steps = split_steps(text)
    assert "".join(steps) == text
    assert all(step for step in steps)


def test_split_steps_lines_and_sentence_fallback():
    assert split_steps("x = 1\ny = 2\n\nThe answer is 3.") == ["x = 1\n", "y = 2\n\n", "The answer is 3."]
    assert split_steps("First add. Then subtract! Done") == ["First add. ", "Then subtract! ", "Done"]
    assert split_steps("") == []
    assert split_steps("\n\nOne line\nTwo\nThree") == ["\n\nOne line\n", "Two\n", "Three"]


def test_round_trip_keeps_extra_keys(tmp_path):
    trace = Trace(id="q1", prompt="Q: 1+1?\n", steps=["1+1=2\n", "The answer is 2."], dataset="gsm8k",
                  options=[" 2", " 3"], gold="2", answer="2", correct=True, meta={"note": "x"})
    path = tmp_path / "t.jsonl"
    write_traces(path, [trace])
    (back,) = read_traces(path)
    assert back == trace and back.text == "Q: 1+1?\n1+1=2\nThe answer is 2."


@pytest.mark.parametrize("line, message", [
    ('{"id": "a", "prompt": "p"', "invalid JSON"),
    ('{"id": "a", "prompt": "p"}', "missing required field 'steps'"),
    ('{"id": "a", "prompt": "p", "steps": "one"}', "'steps' must be a list"),
    ('{"id": "a", "prompt": "p", "steps": [], "options": []}', "'options' must be null or a non-empty"),
    ('{"id": "a", "prompt": "p", "steps": [], "correct": "yes"}', "'correct' must be true"),
    ('[1, 2]', "expected a JSON object"),
])
def test_malformed_line_names_file_line_and_field(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"id": "ok", "prompt": "p", "steps": ["s"]})
    path.write_text(good + "\n\n" + line + "\n")
    with pytest.raises(TraceFormatError, match=message) as info:
        read_traces(path)
    assert f"{path}:3" in str(info.value)
    assert path.read_text().startswith(good)  # reading never touches the file


def test_duplicate_id_and_missing_file(tmp_path):
    path = tmp_path / "dup.jsonl"
    line = json.dumps({"id": "a", "prompt": "p", "steps": []})
    path.write_text(line + "\n" + line + "\n")
    with pytest.raises(TraceFormatError, match="duplicate trace id 'a'"):
        read_traces(path)
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        read_traces(tmp_path / "nope.jsonl")
