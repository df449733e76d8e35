"""Answer sets and the three estimators' arithmetic: readout, vocab, sampling (all in nats).

- `readout`: terminated option probabilities p_o = p(o, then the end of the answer | context_k + cue)
  (`siakit.scorer.termination`), renormalised over the set S_k of prefix k
  (`siakit.scorer.candidates`): h_k = -sum p_o log p_o; the gold against S_k + {gold}:
  s_k = -log p_gold; coverage = sum_{o in S_k} p_o before renormalising (`prefix_readout`).
- `vocab`: the full next-token entropy at the first answer slot after the cue (a crude proxy).
- `rollout` (old name `sampling`, the same code): M continuations of the reasoning sampled from
  context_k to the end, answers extracted and graded, plug-in (or Miller-Madow) entropy of the
  empirical answer distribution with a bootstrap interval; unparsable answers form one outcome.
  s_k is add-one smoothed so it stays finite when the gold is never sampled (`empirical_summary`);
  see `siakit.scorer.rollout` for every column.

    >>> round(prefix_readout(np.log([0.2, 0.6]), [0, 1], gold=0)["entropy"], 4)   # over [0.25, 0.75]
    0.5623
"""
from __future__ import annotations

import math
import zlib

import numpy as np

from siakit.data.answers import normalize_answer

ESTIMATORS = ("readout", "vocab", "rollout", "sampling", "enumerate")  # "sampling": the old name of "rollout";
# "enumerate": siakit.scorer.enumeration
ROLLOUT = ("rollout", "sampling")  # the estimators computed by siakit.scorer.rollout
_normalize = normalize_answer  # old name, for branches written against it: new code imports normalize_answer
UNPARSED = "<none>"  # the outcome of a sampled continuation whose answer cannot be extracted


def gold_index(options: list[str], gold: str | None) -> int | None:
    """Index of the gold option: stripped text equal to gold, numbers compared normalised.

    gold_index([" 12", " 8.0"], "8") -> 1;  gold_index([" A", " B"], "B") -> 1;  (.., "C") -> None
    """
    if gold is None:
        return None
    target = normalize_answer(gold)
    hits = [i for i, option in enumerate(options) if option.strip() == str(gold).strip()]
    hits = hits or [i for i, option in enumerate(options) if normalize_answer(option) == target]
    return hits[0] if hits else None


def candidate_options(gold: str | None, answer: str | None, sampled: list[str | None],
                      mentioned: list[str] = (), limit: int | None = None) -> list[str]:
    """A numeric candidate set (ours): gold, the trace's own answer, sampled answers, then numbers
    mentioned in the question and trace, each once (by normalised value), at most `limit` in all,
    written with a leading space as they follow the cue.

    candidate_options("8", "8.0", ["12", None, "8"]) -> [" 8", " 12"]
    candidate_options("8", "8", [], ["3", "5", "8"], limit=3) -> [" 8", " 3", " 5"]
    """
    options, seen = [], set()
    for value in [gold, answer, *sampled, *mentioned]:
        if value is None or not str(value).strip():
            continue
        key = normalize_answer(value)
        if key not in seen:
            seen.add(key)
            options.append(" " + key)
    return options[:limit] if limit else options


def prefix_readout(option_logprob, members: list[int], gold: int | None) -> dict:
    """The readout of one prefix: `option_logprob` [|U|] terminated log-probs of the union U,
    `members` the indices of S_k in U, `gold` the gold's index in U (or None).

    entropy h_k (nats) and probs over S_k renormalised; leading = the index in U of S_k's most
    probable option (ties: the first in S_k's order, which never depends on the gold); coverage =
    sum_{o in S_k} p_o (unnormalised, in [0, 1]); gold_logprob = log p(gold) renormalised over
    S_k + {gold}. Fewer than two options leave nothing to choose between: entropy is NaN when
    |S_k| < 2, gold_logprob NaN when |S_k + {gold}| < 2 (leading is still S_k's only member, None
    when S_k is empty).

    prefix_readout(np.log([0.2, 0.6, 0.1]), [0, 1], gold=2) -> entropy of [.25, .75], leading 1,
    coverage 0.8, gold_logprob log(0.1 / 0.9)
    """
    lp = np.asarray(option_logprob, dtype=float)
    members = list(members)
    out = {"entropy": math.nan, "probs": [], "leading": None, "coverage": 0.0, "gold_logprob": math.nan}
    if members:
        sub = lp[members]
        log_z = np.logaddexp.reduce(sub)
        p = np.exp(sub - log_z)
        out.update(probs=p.tolist(), leading=members[int(np.argmax(sub))], coverage=float(np.exp(log_z)))
        if len(members) >= 2:
            out["entropy"] = max(float(-(p * (sub - log_z)).sum()), 0.0)
    if gold is not None:
        scored = members if gold in members else members + [gold]
        if len(scored) >= 2:
            out["gold_logprob"] = float(lp[gold] - np.logaddexp.reduce(lp[scored]))
    return out


def empirical_summary(answers: list[str | None], gold: str | None, miller_madow: bool = False) -> dict:
    """Empirical answer distribution of sampled continuations: plug-in entropy (nats), optionally with
    the Miller-Madow correction (m - 1) / (2M). The gold's log-probability is add-one (Laplace)
    smoothed over the observed outcomes plus the gold, log((c_gold + 1) / (M + m')) with m' the
    number of distinct outcomes counting the gold, so s_k is finite when the gold is never sampled
    (log(1 / (M + m + 1)) then) and mean curves stay finite.

    empirical_summary(["8", "8", "12", None], "8") -> options ["8", "12", "<none>"], probs [.5, .25, .25],
    gold_logprob log(3 / 7)
    """
    from siakit.theory.info import miller_madow_entropy, plugin_entropy

    if not answers:
        raise ValueError("sampling estimator: no samples (samples must be >= 1)")
    keys = [UNPARSED if a is None else normalize_answer(a) for a in answers]
    options = list(dict.fromkeys(keys))
    counts = np.array([keys.count(o) for o in options], dtype=float)
    entropy = abs(float((miller_madow_entropy if miller_madow else plugin_entropy)(counts)))  # no -0.0
    probs = counts / counts.sum()
    gold_lp = math.nan
    if gold is not None:
        g = normalize_answer(gold)
        count = float(counts[options.index(g)]) if g in options else 0.0
        outcomes = len(options) + (g not in options)
        gold_lp = float(np.log((count + 1) / (counts.sum() + outcomes)))
    return {"entropy": entropy, "probs": probs.tolist(), "options": options,
            "leading": int(np.argmax(counts)), "n_unparsed": keys.count(UNPARSED),
            "gold_logprob": gold_lp}


def trace_seed(seed: int, trace_id: str, k: int) -> int:
    """A seed per (trace, prefix), stable across runs, processes and resumptions (`trace_id` may be
    any text: the candidate samples are seeded by the prompt, so one question gets one sample set)."""
    return (seed * 1_000_003 + zlib.crc32(str(trace_id).encode()) * 1009 + k) % (2 ** 31)


def sample_texts(lm, context: list[int], n: int, max_new_tokens: int, temperature: float = 1.0,
                 seed: int = 0, batch_size: int = 64) -> list[str]:
    """`n` continuations of the token ids `context`, sampled from the model's own distribution (no
    top-k/top-p cut) and decoded without special tokens. The context is encoded once and its cache
    shared by the n rows (`siakit.models.shared_prefill`); protocol modules use a cache-free loop.

    sample_texts(lm, [0, 17, 42], n=3, max_new_tokens=8, seed=1) -> [" 5 apples.", " 8", "Step 2"]
    """
    from siakit.models.shared_prefill import sample_continuations

    rows = sample_continuations(lm, [list(context)], [n], [seed], max_new_tokens, temperature, batch_size)[0]
    return lm.tokenizer.batch_decode([r.tokens for r in rows], skip_special_tokens=True)


def extract(text: str, choices: list[str] | None) -> str | None:
    """The final answer of a continuation (cut at a base model's next few-shot question)."""
    from siakit.data.answers import extract_answer
    from siakit.data.prompts import cut_at_stop

    return extract_answer(cut_at_stop(text), choices)
