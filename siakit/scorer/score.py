"""The conditional-answer-entropy scorer: h_k and s_k after every prefix C_{1:k} of a trace.

    >>> from siakit.data.traces import write_traces
    >>> getfixture("monkeypatch").chdir(getfixture("tmp_path"))     # (the example writes into a fresh folder)
    >>> write_traces("t.jsonl", traces)                # four tiny traces, K = 2 each
    >>> frame = score_traces(lm, read_traces("t.jsonl"), progress=False)   # lm: load_model("smollm2-135m-instruct")
    >>> frame[["id", "k", "entropy", "gold_logprob"]].head(3).round(3)   # one row per (trace, k), nats
       id  k  entropy  gold_logprob
    0  t0  0    0.576        -0.305
    1  t0  1    0.031        -0.005
    2  t0  2    0.166        -0.040

Model protocol. `lm` is a `siakit.models.loading.LoadedModel` (`.model`, `.tokenizer` fast with offsets,
`.name`). `.model` is a transformers causal LM, or any torch module with
`forward(input_ids [b, q] long, attention_mask=None, position_ids=None [b, q], logits_to_keep=None)`
returning an object with `.logits [b, q', vocab]`, where `attention_mask` is None (plain causal) or a
4-D bool tensor [b, 1, q, k] (True = may attend), `position_ids=None` means 0..q-1, and
`logits_to_keep` is an int (last n) or a 1-D LongTensor of sequence indices (transformers semantics).
The model's adapter (`siakit.models.adapter`, resolved once) says whether the tree methods can run;
a transformers model whose attention cannot take a custom mask (flash-attention) falls back to the
KV-cache path, and the `method` column says `kv-fallback`; a protocol module without mask support
falls back to `naive` (`naive-fallback`). Methods come from the one registry, `siakit.scorer.methods`.

Prompt sharing is always on: traces whose prompts tokenize the same (anywhere in the input) are
scored as one token forest with one trunk for the prompt (`siakit.scorer.packing`); the rows are those
of scoring each trace alone (float rounding, <= 1e-5 nats in float32) and come in input order.

Exact semantics (tokenization, prefix boundaries, probes): see `siakit.scorer.layout`; the end of an
answer (terminated options): `siakit.scorer.termination`; the answer sets S_k known at each prefix:
`siakit.scorer.candidates`; the estimators' arithmetic: `siakit.scorer.estimators`. Log-softmax is
always taken in float32.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

from siakit.scorer.candidates import prefix_sets
from siakit.scorer.estimators import ESTIMATORS, ROLLOUT, prefix_readout
from siakit.scorer.rollout import rollout_prefixes, rollout_rows
from siakit.scorer.chunked import CHUNK_PREFIXES
from siakit.scorer.prepare import Candidates, Prepared, prepare
from siakit.scorer.schedule import METHOD_CHOICES, Forward, forward_all, resolve_method  # noqa: F401 (choices)
from siakit.data.traces import Trace, read_traces  # noqa: F401  (read_traces: for the docstring example)
from siakit.progress import progress_bar

# Bumped whenever the numbers score_traces returns change meaning (2: options scored with the end of
# the answer, numeric candidate sets built from the prefix only; 3: `enumerate`'s search gold-blind,
# the gold read beside it). Caches of scored results key on it.
SCORER_VERSION = 3


@dataclass
class ScoreConfig:
    estimator: str | tuple = "readout"  # readout | vocab | rollout (old name: sampling) | enumerate, or several
                                   # (rows for each)
    method: str = "auto"           # auto = packed (kvtree for traces over dense_max_tokens); see METHOD_CHOICES
    cue: str | None = None         # None: each trace's own cue (Trace.cue, default "\nThe answer is")
    candidate_samples: int = 0     # numeric readout without options: answers of M continuations
                                   # sampled from the question alone join every S_k (0 = none)
    candidate_max_new_tokens: int = 256  # length cap of those continuations (GSM8K fits in ~150)
    candidate_mentions: int = 8    # numeric readout without options: the this-many most recently
                                   # mentioned distinct numbers of Q + C_{1:k} join S_k (0 = none)
    terminated: bool = True        # options read with their end: p(o then end of answer), so " 2"
                                   # does not hold " 24" (False: the old prefix-greedy product)
    rollout_m: int = 16            # rollout estimator: continuations M sampled from each prefix
    samples: int | None = None     # the old name of rollout_m (the CLI's --samples); wins when set
    rollout_at: tuple | None = None  # rollout: None = every prefix k; else fractions u of the trace,
                                   # the prefix k = round(u * K) for each (e.g. (0.5,): mid-trace only)
    rollout_bootstrap: int = 200   # rollout: bootstrap draws over the M rollouts for entropy_low/high
    rollout_batch: int = 32        # rollout: rows per decode batch (rollouts of several prefixes mix)
    rollout_total_tokens: int | None = None  # rollout: None = each continuation up to max_new_tokens;
                                   # else the traces' own generation budget: prefix k's rollouts get
                                   # that many tokens less the reasoning tokens of C_{1:k} (at least 1)
    max_new_tokens: int = 256      # rollout estimator: length cap of each continuation (a capped one
                                   # is graded as truncated, as `siakit generate` grades)
    temperature: float = 1.0       # 1 = the model's own distribution (what h_k is defined under)
    miller_madow: bool = False     # rollout: `entropy` adds (m - 1) / 2M to the plug-in entropy
                                   # (both are columns: entropy_plugin, entropy_mm)
    seed: int = 0                  # every sample is seeded from (seed, trace id, k)
    enumerate_epsilon: float = 0.01  # enumerate: stop a prefix once its unexplored mass is below this
    enumerate_max_nodes: int = 256   # enumerate: trie nodes expanded per prefix at most (one token each)
    enumerate_width: int = 64        # enumerate: nodes per prefix in one level's pass at most
    enumerate_max_digits: int = 12   # enumerate: longer numbers stay unexplored
    enumerate_leads: tuple = (":",)  # enumerate: strings allowed between the cue and the answer's
                                     # space ("The answer is: 42"; () = none)
    enumerate_prefetch: bool = True  # enumerate: feed S_k's numbers (candidate_mentions) and the gold
                                     # with the cues in the first pass (fewer tokens fed; the same numbers)
    pack_tokens: int = 2048        # tokens per packed pass (trunks + probes); more fills a GPU better
    dense_max_tokens: int = 8192   # auto: a longer trace goes through kvtree (no L x L mask)
    mask: str = "auto"             # auto (flex where it wins: flex_attention models on CUDA; else dense)
                                   # | dense | flex; see siakit.scorer.masks.resolve_mask
    compile: str = ""              # "inductor": torch.compile the model forward for the tree pass (GPU;
                                   # max-autotune-no-cudagraphs on CUDA); "" = eager (the default)
    pack_layout: str = "rows"      # packed: rows = a padded batch row per trace (no attention across
                                   # traces: 2x faster in benchmarks/RESULTS.md); diag = one sequence,
                                   # block-diagonal mask
    truncate: bool = False         # True: drop trailing steps of an over-long trace instead of failing
    chunk_prefixes: int = CHUNK_PREFIXES  # a trace of more prefixes is scored in slices of this many
                                   # (siakit.scorer.chunked): memory bounded whatever K is, same numbers
    progress: bool = True          # tqdm bar over traces

    def cache_fields(self) -> dict:
        """The settings as JSON-ready values, without `progress` (it changes no number): what a cache
        of scores hashes. ScoreConfig(progress=False).cache_fields()["estimator"] -> "readout"."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in fields(self) if f.name != "progress"}


def score_traces(lm, traces, estimator: str | tuple | None = None, method: str | None = None,
                 config: ScoreConfig | None = None, **overrides):
    """Score every prefix k = 0..K of every trace; returns a pandas DataFrame with one row per
    (trace id, k, estimator): id, k, n_prefix_tokens, entropy (h_k, nats, over S_k), gold_logprob
    (= -s_k, over S_k + {gold}), option_probs (S_k renormalised), option_logprobs (terminated, not
    renormalised), n_options (|S_k|), options (S_k), leading_option, coverage (total terminated
    probability of S_k), gold_in_set, candidates (given | prefix), terminated, estimator, cue, model,
    method, dataset, n_steps, correct, gold, answer. `rollout` (alias `sampling`) rows exist only at
    the prefixes `rollout_at` selects and add the columns of `siakit.scorer.rollout` (n_samples,
    n_unparsed, n_truncated, entropy_plugin, entropy_mm, entropy_low/high, gold_share, n_gold,
    own_answer_share, n_rollout_tokens, rollout_answers).

    `config` (a ScoreConfig) sets the parameters; `estimator`, `method` and keyword `overrides`
    replace its fields only when given.
    """
    import pandas as pd

    cfg = _config(config, {"estimator": estimator, "method": method, **overrides})
    estimators = (cfg.estimator,) if isinstance(cfg.estimator, str) else tuple(cfg.estimator)
    for name in estimators:
        if name not in ESTIMATORS:
            raise ValueError(f"unknown estimator '{name}'; use one of {ESTIMATORS}")
    traces = list(traces)
    if len({t.id for t in traces}) != len(traces):
        raise ValueError("score_traces: duplicate trace ids")
    resolved = resolve_method(lm.adapter, cfg.method)
    prepared = prepare(lm, traces, estimators, cfg)
    results = _forward_results(lm, prepared, estimators, cfg, resolved)
    enumerated: dict = {}  # id -> per-k enumerate row fields (numeric traces)
    if "enumerate" in estimators:
        bar = progress_bar(total=len(prepared), desc=f"enumerate {lm.name}", unit="trace", enabled=cfg.progress)
        enumerated = _enumerate_all(lm, prepared, cfg, bar)
        bar.close()
    rolled: dict = {}  # (id, k) -> rollout row fields
    if set(ROLLOUT) & set(estimators):
        m = cfg.samples if cfg.samples is not None else cfg.rollout_m
        total = sum(len(rollout_prefixes(len(p.layout.bounds) - 1, cfg.rollout_at)) for p in prepared) * m
        bar = progress_bar(total=total, desc=f"rollouts {lm.name}", unit="rollout", enabled=cfg.progress)
        rolled = rollout_rows(lm, prepared, cfg, bar)
        bar.close()
    rows = [row for p in prepared for name in estimators
            for row in _trace_rows(lm, p, name, results, enumerated, rolled, cfg.terminated)]
    return pd.DataFrame(rows, columns=_COLUMNS + [c for c in _EXTRA if any(c in r for r in rows)])


def _config(config, given: dict) -> ScoreConfig:
    """`config` (or the defaults) with the fields in `given` that are not None replaced."""
    unknown = sorted(set(given) - {f.name for f in fields(ScoreConfig)})
    if unknown:
        raise TypeError(f"score_traces: unknown parameter(s) {unknown}; see ScoreConfig")
    return replace(config or ScoreConfig(), **{k: v for k, v in given.items() if v is not None})


def _forward_results(lm, prepared: list[Prepared], estimators, cfg: ScoreConfig, resolved) -> dict:
    """{layout id: Forward} of the forward methods: every trace for readout / vocab, else the
    multiple-choice traces of `enumerate` (whose readout over the choices is already exact)."""
    forward = bool({"readout", "vocab"} & set(estimators))
    choice = [p.layout for p in prepared if "enumerate" in estimators and p.candidates is not None
              and p.candidates.kind == "given"]
    bar = progress_bar(total=len(prepared) * forward, desc=f"score {lm.name}", unit="trace", enabled=cfg.progress)
    results: dict = {}
    if forward or choice:
        results = forward_all(lm.adapter, [p.layout for p in prepared] if forward else choice, resolved.method,
                              cfg, f"{resolved.method}-fallback" if resolved.fallback else None,
                              bar if forward else None)
    bar.close()
    return results


def _trace_rows(lm, p: Prepared, name: str, results, enumerated, rolled, terminated: bool) -> list[dict]:
    """The rows of estimator `name` for one prepared trace, k = 0..K (rollout: its selected k only)."""
    trace, lay, adapter = p.trace, p.layout, lm.adapter
    common = {"model": lm.name, "cue": p.cue, "dataset": trace.dataset, "n_steps": len(trace.steps),
              "correct": trace.correct, "gold": trace.gold, "answer": trace.answer}
    rows = []
    for k, n_prefix in enumerate(lay.bounds):
        row = {"id": trace.id, "k": k, "n_prefix_tokens": n_prefix, "estimator": name, **common}
        if name in ROLLOUT:
            if (trace.id, k) not in rolled:
                continue
            row.update(rolled[(trace.id, k)])
        elif name == "enumerate":
            row.update(enumerated[lay.id][k] if lay.id in enumerated else
                       _choices_row(results[lay.id], p.candidates, k, adapter, terminated))
        else:
            result = results[lay.id]
            row["method"] = result.method
            row.update(readout_row(result.option_logprob[k], result.vocab_entropy[k], p.candidates, k, name,
                                   adapter, terminated))
        rows.append(row)
    return rows


_COLUMNS = ["id", "k", "n_prefix_tokens", "entropy", "gold_logprob", "option_probs", "option_logprobs",
            "n_options", "options", "leading_option", "coverage", "gold_in_set", "candidates", "terminated",
            "estimator", "cue", "model", "method", "dataset", "n_steps", "correct", "gold", "answer"]
_EXTRA = ["n_samples", "n_unparsed", "n_truncated", "entropy_plugin", "entropy_mm", "entropy_low", "entropy_high",
          "gold_share", "n_gold", "own_answer_share", "n_rollout_tokens", "rollout_answers", "gold_logprob_raw",
          "enumerated_mass", "non_numeric_mass", "unexplored_mass", "n_nodes", "n_gold_nodes"]


def _enumerate_all(lm, prepared, cfg, bar) -> dict:
    """id -> per-k rows of the `enumerate` estimator for the numeric traces (no given options)."""
    from siakit.scorer.enumeration import EnumerateOptions, enumerate_layout
    from siakit.scorer.numeric_grammar import numeric_grammar

    opts = EnumerateOptions(epsilon=cfg.enumerate_epsilon, max_nodes=cfg.enumerate_max_nodes,
                            width=cfg.enumerate_width, max_digits=cfg.enumerate_max_digits,
                            leads=tuple(cfg.enumerate_leads))
    out = {}
    for trace, _cue, cands, lay in prepared:
        if cands is not None and cands.kind == "given":
            bar.update(1)
            continue
        grammar = numeric_grammar(lm.tokenizer, opts.leads)
        prefetch = _prefetch_paths(lm.tokenizer, trace, opts.leads, cfg) if cfg.enumerate_prefetch else None
        rows = enumerate_layout(lm.adapter, grammar, lay, trace.gold, opts, prefetch)
        rows[0].pop("tokens_fed", None)
        out[lay.id] = [{**r, "method": "enumerate"} for r in rows]
        bar.update(1)
    return out


def _prefetch_paths(tokenizer, trace: Trace, leads, cfg) -> list[list[list[int]]]:
    """Per prefix, the token paths `enumerate` feeds in its first pass: the numbers of S_k (the
    readout's prefix-only set, " " + number) and the gold with and without each lead."""
    from siakit.data.answers import normalize_answer

    question = str(trace.meta.get("question") or trace.prompt)
    sets = prefix_sets(question, trace.steps, [], cfg.candidate_mentions)
    gold = [lead + " " + normalize_answer(trace.gold) for lead in ("", *leads)] if trace.gold is not None else []
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    return [[encode(text) for text in dict.fromkeys(options + gold)] for options in sets]


def _choices_row(result: Forward, cands: Candidates, k: int, adapter, terminated: bool) -> dict:
    """`enumerate` on a multiple-choice trace: the readout over its choices, which is already the
    exact distribution over the allowed answers (nothing is unexplored; what the choices do not
    hold is non-numeric mass)."""
    opt_lp, vocab_h, used = result
    row = readout_row(opt_lp[k], vocab_h[k], cands, k, "readout", adapter, terminated)
    raw = float(opt_lp[k][cands.gold]) if cands.gold is not None else math.nan
    return {**row, "method": used, "entropy_low": row["entropy"], "entropy_high": row["entropy"],
            "gold_logprob_raw": raw, "enumerated_mass": row["coverage"],
            "non_numeric_mass": 1.0 - row["coverage"], "unexplored_mass": 0.0, "n_nodes": 0}


def readout_row(opt_lp, vocab_h, cands: Candidates | None, k: int, name, adapter, terminated: bool) -> dict:
    """The row fields of estimator `name` (readout | vocab) at prefix k from one trace's forward result:
    `opt_lp` [n_options] its option log-probabilities after context_k + cue, `vocab_h` its next-token
    entropy there (nats)."""
    if name == "vocab":
        return {"entropy": float(vocab_h), "gold_logprob": math.nan, "option_probs": None,
                "option_logprobs": None, "n_options": adapter.vocab_size, "options": None,
                "leading_option": None, "coverage": math.nan, "gold_in_set": None, "candidates": None,
                "terminated": None}
    members = cands.members[k]
    summary = prefix_readout(opt_lp, members, cands.gold)
    return {"entropy": summary["entropy"], "gold_logprob": summary["gold_logprob"],
            "option_probs": summary["probs"], "option_logprobs": [float(opt_lp[i]) for i in members],
            "n_options": len(members), "options": [cands.options[i] for i in members],
            "leading_option": None if summary["leading"] is None else cands.options[summary["leading"]].strip(),
            "coverage": summary["coverage"], "gold_in_set": cands.gold in members if cands.gold is not None else None,
            "candidates": cands.kind, "terminated": terminated}
