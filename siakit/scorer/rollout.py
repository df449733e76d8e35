"""The `rollout` estimator: the model's own law of the final answer after each prefix C_{1:k}.

From prefix k, M continuations of the *reasoning* are sampled to the end (temperature 1 = the
model's own distribution, `siakit.scorer.continuations`), their answers extracted and graded. Per
prefix (all in nats):

- the rollout answer distribution (options, option_probs; unparsed rollouts form one outcome
  "<none>"), `entropy_plugin` = -sum p log p, `entropy_mm` = plug-in + (m - 1) / (2M) (Miller-Madow,
  m = distinct outcomes); `entropy` is one of them (`ScoreConfig.miller_madow`), with a percentile
  bootstrap interval over rollouts (`entropy_low`, `entropy_high`, `rollout_bootstrap` draws);
- the rollout s_k: `gold_share` = (n_gold + 1) / (M + m'), add-one (Laplace) smoothing over the
  observed outcomes plus the gold (m' = distinct outcomes counting the gold), so
  gold_logprob = log gold_share stays finite when no rollout reaches the gold; `n_gold` the raw count;
- `own_answer_share`: the share of rollouts ending on the trace's own answer (NaN without one);
- `n_samples` (M), `n_unparsed`, `n_truncated` (hit the length cap; graded as `siakit generate`
  does), `n_rollout_tokens` (tokens sampled), `rollout_answers` (the M answers, in row order).

    >>> s = rollout_summary(["8", "8", "12", None], gold="8", own="12", seed=0)
    >>> s["gold_share"]                 # (2 + 1) / (4 + 3)
    0.428...
    >>> s["own_answer_share"], s["options"], s["option_probs"], round(s["entropy"], 4)
    (0.25, ['8', '12', '<none>'], [0.5, 0.25, 0.25], 1.0397)

The prefixes: every k (`rollout_at=None`) or the k = round(u * K) nearest to each fraction u in
`rollout_at` (u = 0.5 of a 4-step trace is k = 2; ties round half up). Every prefix's cache is
shared across its M rollouts (`siakit.models.shared_prefill`), and rollouts of different prefixes
share decode batches of `rollout_batch` rows. Each rollout is capped at `max_new_tokens`, or, with
`rollout_total_tokens` (a trace generated under a budget of that many tokens), at that budget less
the reasoning tokens C_{1:k} already holds (at least 1): the continuation of the same generation.
"""
from __future__ import annotations

import math

import numpy as np

from siakit.scorer.continuations import RolloutJob, sample_rollouts
from siakit.data.answers import normalize_answer
from siakit.scorer.estimators import UNPARSED, empirical_summary, trace_seed


def rollout_prefixes(n_steps: int, at: tuple | None) -> list[int]:
    """The prefixes k in 0..K that get rollouts (K = n_steps).

    rollout_prefixes(4, None) -> [0, 1, 2, 3, 4];  (4, (0.5,)) -> [2];  (3, (0.5, 1.0)) -> [2, 3]
    """
    if at is None:
        return list(range(n_steps + 1))
    bad = [u for u in at if not 0.0 <= float(u) <= 1.0]
    if bad:
        raise ValueError(f"rollout_at: fractions must lie in [0, 1], got {bad}")
    return sorted({int(math.floor(float(u) * n_steps + 0.5)) for u in at})


def _entropy(counts: np.ndarray, mm: bool):
    """Plug-in or Miller-Madow entropy (nats) of counts [..., m] -> [...] (a float for one row; no -0.0)."""
    from siakit.theory.info import miller_madow_entropy, plugin_entropy

    h = np.abs((miller_madow_entropy if mm else plugin_entropy)(counts))
    return float(h) if np.ndim(h) == 0 else h


def rollout_summary(answers: list[str | None], gold: str | None, own: str | None, seed: int,
                    miller_madow: bool = False, n_boot: int = 200, multiple_choice: bool = False) -> dict:
    """The per-prefix numbers of the module docstring from the M rollout answers (None = unparsed)."""
    from siakit.data.answers import grade

    base = empirical_summary(answers, gold, miller_madow)
    keys = [UNPARSED if a is None else normalize_answer(a) for a in answers]
    options = base["options"]
    counts = np.array([keys.count(o) for o in options], dtype=float)
    codes = np.array([options.index(k) for k in keys])
    boots = np.array([])
    if n_boot > 0:  # [n_boot, M] resampled rollouts -> [n_boot, m] counts -> [n_boot] entropies
        draws = codes[np.random.default_rng(seed).integers(0, len(codes), size=(n_boot, len(codes)))]
        boots = np.atleast_1d(_entropy((draws[..., None] == np.arange(len(options))).sum(1).astype(float),
                                       miller_madow))
    n_gold = sum(grade(a, gold, multiple_choice) for a in answers) if gold is not None else None
    own_key = None if own is None else normalize_answer(own)
    return {"entropy": base["entropy"], "entropy_plugin": _entropy(counts, False),
            "entropy_mm": _entropy(counts, True),
            "entropy_low": float(np.percentile(boots, 2.5)) if boots.size else math.nan,
            "entropy_high": float(np.percentile(boots, 97.5)) if boots.size else math.nan,
            "gold_logprob": base["gold_logprob"],
            "gold_share": math.exp(base["gold_logprob"]) if gold is not None else math.nan,
            "n_gold": n_gold,
            "own_answer_share": keys.count(own_key) / len(keys) if own_key is not None else math.nan,
            "option_probs": base["probs"], "options": options, "n_options": len(options),
            "leading_option": options[base["leading"]], "n_samples": len(answers),
            "n_unparsed": base["n_unparsed"]}


def rollout_rows(lm, prepared, cfg, bar=None) -> dict:
    """Rollout rows of every selected prefix: {(trace id, k): row fields}. `prepared` holds
    (trace, cue, candidates, layout) tuples as `score_traces` builds them; `cfg` a ScoreConfig."""
    m = cfg.samples if cfg.samples is not None else cfg.rollout_m
    if m < 1:
        raise ValueError(f"rollout_m must be >= 1, got {m}")
    jobs, choices, owners = [], [], []
    for trace, _cue, _cands, lay in prepared:
        labels = [o.strip() for o in trace.options] if trace.options else None
        for k in rollout_prefixes(len(lay.bounds) - 1, cfg.rollout_at):
            cap = None  # rollout_total_tokens: the trace's own budget, less the reasoning tokens written by k
            if cfg.rollout_total_tokens is not None:
                cap = max(1, cfg.rollout_total_tokens - (lay.bounds[k] - lay.bounds[0]))
            jobs.append(RolloutJob(trace.id, k, list(lay.ids[: lay.bounds[k]]), "".join(trace.steps[:k]), m,
                                   trace_seed(cfg.seed, trace.id, k), cap))
            choices.append(labels)
            owners.append(trace)
    stats: dict = {}
    graded = sample_rollouts(lm, jobs, cfg.max_new_tokens, cfg.temperature, cfg.rollout_batch, choices, stats, bar)
    rows = {}
    for job, trace, labels, g in zip(jobs, owners, choices, graded):
        row = rollout_summary(g.answers, trace.gold, trace.answer, job.seed, cfg.miller_madow,
                              cfg.rollout_bootstrap, multiple_choice=labels is not None)
        row.update(method="rollout", n_truncated=int(sum(g.truncated)), n_rollout_tokens=g.n_tokens,
                   rollout_answers=[a for a in g.answers], option_logprobs=None)
        rows[(trace.id, job.k)] = row
    return rows
