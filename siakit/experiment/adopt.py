"""The data is the truth; the manifest describes it. Checks made before a stored run is resumed.

A run folder's traces record how each was made (`meta`: the length cap `max_new_tokens`, the tokens
generated `n_new_tokens` and whether the cap cut them, the `temperature`, the trace's own sampling
`seed`; and `model`). A resume compares them with the request, whatever the manifest says: a deleted
manifest (which would otherwise let the old traces be adopted under the new label) or an edited one
cannot make traces of another length cap, temperature, seed or model count as this run's.

    >>> from siakit.experiment.config import RunConfig
    >>> from siakit.experiment.store import ResultsStore
    >>> getfixture("monkeypatch").chdir(getfixture("tmp_path"))     # (the example writes into a fresh folder)
    >>> store = ResultsStore("results/m/d")
    >>> store.append_traces(traces)               # four traces; t3 generated 160 tokens
    >>> check_stored_traces(store.read_traces(everything=True), RunConfig(max_new_tokens=100), "tiny-llama", store.path)
    Traceback (most recent call last):
    ValueError: results/m/d: the stored traces were made with other parameters (max_new_tokens: 1 of 4 stored traces have cut at 160 tokens, requested 100); ... --force to start again

Traces written before the cap was recorded (no `meta.max_new_tokens`) are checked on what they do
record: a trace cut by the cap has exactly `max_new_tokens` new tokens, none has more.
"""
from __future__ import annotations

from pathlib import Path


def model_name(spec: str) -> str:
    """The name `siakit.models.loading.load_model(spec)` gives a model (what each trace records).

        model_name("models/tiny-llama") -> "tiny-llama";  model_name("x/m.gguf") -> "m"
        model_name("Qwen/Qwen2.5-0.5B") -> "Qwen__Qwen2.5-0.5B"
    """
    from siakit.models.loading import EMBEDDED

    if spec in EMBEDDED:
        name = spec
    elif spec.endswith(".gguf"):
        name = Path(spec).stem
    elif Path(spec).is_dir():
        name = Path(spec).name
    else:
        name = spec
    return name.replace("/", "__")


def trace_mismatch(trace, cfg, model: str | None) -> dict[str, str]:
    """{field: what the trace says} for every recorded generation parameter of `trace` that differs
    from the request `cfg` (a RunConfig); fields the trace does not record are not compared.

        trace_mismatch(Trace(..., meta={"n_new_tokens": 24, "truncated": True}), RunConfig(max_new_tokens=30), None)
        -> {"max_new_tokens": "cut at 24 tokens"}
    """
    from siakit.experiment.generate import problem_seed

    meta, found = trace.meta or {}, {}
    cap, n_new = meta.get("max_new_tokens"), meta.get("n_new_tokens")
    if cap is not None and cap != cfg.max_new_tokens:
        found["max_new_tokens"] = f"cap {cap}"
    elif isinstance(n_new, int) and (n_new > cfg.max_new_tokens or (meta.get("truncated") and n_new != cfg.max_new_tokens)):
        found["max_new_tokens"] = f"cut at {n_new} tokens"
    if "temperature" in meta and meta["temperature"] != cfg.temperature:
        found["temperature"] = f"temperature {meta['temperature']}"
    if "seed" in meta:
        expected = problem_seed(cfg.seed, str(meta.get("problem_id", trace.id)))
        if "sample" in meta:  # sample i of a problem (generate --samples): its own seed from the problem's
            from siakit.models.shared_prefill import row_seed

            expected = row_seed(expected, meta["sample"])
        if meta["seed"] != expected:
            found["seed"] = "another seed"
    if model is not None and trace.model and trace.model != model:
        found["model"] = f"model {trace.model!r}"
    return found


def check_stored_traces(traces, cfg, model: str | None, where) -> None:
    """Refuse to adopt stored traces whose own records disagree with the request (see the module)."""
    from collections import Counter

    counts, example = Counter(), {}
    for trace in traces:
        for key, value in trace_mismatch(trace, cfg, model).items():
            counts[key] += 1
            example.setdefault(key, value)
    if counts:
        requested = {"max_new_tokens": cfg.max_new_tokens, "temperature": cfg.temperature, "seed": cfg.seed,
                     "model": model}
        detail = "; ".join(f"{k}: {n} of {len(traces)} stored traces have {example[k]}, requested {requested[k]!r}"
                           for k, n in counts.items())
        raise ValueError(f"{where}: the stored traces were made with other parameters ({detail}); the manifest "
                         "cannot relabel them. Use another results folder, or --force to start again")


def check_stored_scores(scores, estimators, model: str | None, where) -> None:
    """Stored score rows of another estimator or model are refused the same way (scores record both)."""
    if not len(scores):
        return
    wanted = set([estimators] if isinstance(estimators, str) else estimators)
    other = sorted(set(scores["estimator"].astype(str)) - wanted) if "estimator" in scores else []
    if other:
        raise ValueError(f"{where}: the stored scores include estimator(s) {other}, requested {sorted(wanted)}; "
                         "use another results folder, or --force to start again")
    models = sorted(set(scores["model"].astype(str))) if "model" in scores and model is not None else []
    if models and models != [model]:
        raise ValueError(f"{where}: the stored scores were made by model(s) {models}, requested {model!r}; "
                         "use another results folder, or --force to start again")
