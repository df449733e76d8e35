"""The public face: a passed ScoreConfig is honoured, and old import paths still work for one release."""
import warnings

import pytest

from siakit.data.traces import Trace
from siakit.models.tiny import tiny_model
from siakit.scorer import ScoreConfig, score_traces


@pytest.fixture(scope="module")
def lm():
    return tiny_model("llama")


def _trace():
    return Trace(id="t1", prompt="Q: 2 + 3?\n", steps=["Two plus three.", " It is 5."], options=[" 5", " 6"],
                 gold="5", answer="5", correct=True)


def test_a_passed_config_is_honoured(lm, one_thread):
    frame = score_traces(lm, [_trace()], config=ScoreConfig(estimator="vocab", method="kv", progress=False))
    assert set(frame.estimator) == {"vocab"} and set(frame.method) == {"kv"}
    assert (frame.n_options == lm.model.config.vocab_size).all()


def test_keywords_override_only_what_they_name(lm, one_thread):
    cfg = ScoreConfig(estimator="vocab", method="kv", progress=False)
    frame = score_traces(lm, [_trace()], config=cfg, method="naive")
    assert set(frame.estimator) == {"vocab"} and set(frame.method) == {"naive"}
    with pytest.raises(TypeError, match="unknown parameter"):
        score_traces(lm, [_trace()], config=cfg, metod="naive")


def test_old_import_paths_still_work():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import importlib

        import siakit.info as old

        importlib.reload(old)
    assert any(issubclass(w.category, DeprecationWarning) and "siakit.theory.info" in str(w.message) for w in caught)
    from siakit.info import entropy
    from siakit.models import load_model
    from siakit.scorer import score_traces as face
    from siakit.theory.info import entropy as new_entropy

    assert entropy is new_entropy and callable(load_model) and face is score_traces
