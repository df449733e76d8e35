"""The results store: atomic shards, resume after a kill, no row lost or duplicated."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from siakit.experiment.store import ResultsStore, run_dir
from siakit.data.traces import Trace

WRITER = textwrap.dedent("""
    import sys, time
    import pandas as pd
    from siakit.experiment.store import ResultsStore
    from siakit.data.traces import Trace
    store = ResultsStore(sys.argv[1])
    done = store.done_ids("traces")
    for i in range(40):
        tid = f"t{i:03d}"
        if tid in done:
            continue
        store.append_traces([Trace(id=tid, prompt="p", steps=["a\\n", "b"])])
        store.append_scores(pd.DataFrame({"id": [tid] * 3, "k": [0, 1, 2], "estimator": "readout",
                                          "entropy": [1.0, 0.5, 0.1]}))
        time.sleep(0.02)
    print("finished")
""")


def test_kill_and_resume_loses_and_duplicates_nothing(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    path = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, str(script), str(path)], env=env)
    deadline = time.time() + 60
    while len(list((path / "traces").glob("part-*"))) < 5 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = ResultsStore(path)
    partial = store.read_traces()
    assert 5 <= len(partial) < 40, "the writer should have been killed mid-run"
    out = subprocess.run([sys.executable, str(script), str(path)], env=env, capture_output=True, text=True)
    assert "finished" in out.stdout, out.stderr
    ids = [t.id for t in store.read_traces()]
    assert sorted(ids) == [f"t{i:03d}" for i in range(40)]
    scores = store.read_scores()
    assert len(scores) >= 3 * 39 and not scores.duplicated(["id", "k"]).any()
    # a temp file can only be left by the killed writer (its pid in the name), never by the finished one,
    # and no temp file is ever read as a shard (the counts above would be off)
    leftovers = [p.name for p in path.rglob(".*tmp*")]
    assert all(name.endswith(f".tmp{proc.pid}") for name in leftovers), leftovers


def test_manifest_and_parameter_check(tmp_path):
    store = ResultsStore(run_dir(tmp_path, "org/model", "jsonl:/x/y.jsonl"))
    assert "org__model" in str(store.path)
    assert store.read_manifest() is None
    store.write_manifest({"parameters": {"n": 4, "seed": 0}})
    store.check_parameters({"n": 4, "seed": 0})
    with pytest.raises(ValueError, match="n: stored 4 != requested 8"):
        store.check_parameters({"n": 8, "seed": 0})


def test_duplicate_shards_are_dropped_on_read(tmp_path):
    store = ResultsStore(tmp_path)
    trace = Trace(id="a", prompt="p", steps=[])
    store.append_traces([trace])
    store.append_traces([trace])
    frame = pd.DataFrame({"id": ["a"], "k": [0], "estimator": ["readout"], "entropy": [0.3]})
    store.append_scores(frame)
    store.append_scores(frame)
    assert len(store.read_traces()) == 1 and len(store.read_scores()) == 1
    assert store.export_traces().read_text().count("\n") == 1
