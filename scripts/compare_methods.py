"""The scorer's old-versus-new comparison: every (model, method, estimator) on a fixed set of traces.

A refactor of the scorer must not change a number. This script scores the same traces with every
method `score_traces` accepts (`auto` and each method of the registry) and the forward estimators
(`readout`, `vocab`, `enumerate`; `rollout` once per model, it does not depend on the method) on
tiny random-weight models of three transformers families (Llama: rotary, GQA; GPT-2: learned
positions, no BOS; Gemma-2: soft-capping, sliding windows the traces cross), on a pure-torch module
that follows the scorer's model protocol (not transformers: no KV cache), and on the Llama model
under an adapter that takes no custom mask (a flash-attention model: the tree methods fall back).
Traces: given options (0, 1 and 6 steps) and numeric traces whose candidate sets come from the prefix.

    git archive OLD siakit | tar -x -C /tmp/old                     # the old tree's package
    python scripts/compare_methods.py --tree /tmp/old --out before.json
    python scripts/compare_methods.py --out after.json --against before.json   # this checkout
    # -> "max |dh| 0 over 150 cells; every other column: 0 (...); labels and errors equal" (exit 1 if not)

Each cell records per row h_k (`entropy`), `gold_logprob`, the `method` label and the estimator's
other numeric columns (`EXTRA`: enumerate's masses and node counts, rollout's shares), or the error a
combination raises (a method that needs a KV cache on the protocol module), so a changed fallback or
a changed error counts as a difference too.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

FAMILIES = ("llama", "gpt2", "gemma2")
MODELS = (*FAMILIES, "protocol", "protocol-nomask", "llama-nomask")
ESTIMATORS = ("readout", "vocab", "enumerate")
# numeric columns compared besides h_k (entropy) and gold_logprob, where an estimator writes them
EXTRA = ("coverage", "gold_logprob_raw", "enumerated_mass", "non_numeric_mass", "unexplored_mass", "n_nodes",
         "entropy_low", "entropy_high", "entropy_plugin", "gold_share", "n_rollout_tokens")


def traces():
    from siakit.data.traces import Trace

    options = [" 8", " 120", " 1000", " B"]  # multi-token numbers and a single-token label
    steps = [f"\nStep {i}: the train travels 60 miles per hour for 2 hours." for i in range(1, 7)]
    return [
        Trace(id="many", prompt="Question: Tom has 3 apples and buys 5 more.", steps=steps, options=options,
              gold="120", correct=True, dataset="gsm8k"),
        Trace(id="none", prompt="Which is a mammal? (A) shark (B) whale", steps=[], options=options, gold="B"),
        Trace(id="one", prompt="Let's think", steps=[" step by step. So 3 + 5 = 8."], options=options, gold="8"),
        Trace(id="num", prompt="Question: Tom has 3 apples and buys 5 more. How many?\nAnswer:",
              steps=[" Tom has 3 apples.", " So 3 + 5 = 8."], gold="8", meta={"question": "3 + 5?"}),
        Trace(id="num2", prompt="Question: Tom has 3 apples and buys 5 more. How many?\nAnswer:",
              steps=[" The train travels 60 miles.", " For 2 hours, 120 miles."], gold="120"),
    ]


def load(name: str):
    from siakit.models.loading import LoadedModel
    from siakit.models.tiny import protocol_model, tiny_model, tiny_tokenizer

    if name.startswith("protocol"):
        model = protocol_model()
        model.accepts_custom_mask = name == "protocol"  # -nomask: a protocol module without mask support
        return LoadedModel(model=model, tokenizer=tiny_tokenizer(), name="protocol-gpt")
    lm = tiny_model(name.split("-")[0])
    if name.endswith("-nomask"):  # a flash-attention model: its adapter takes no custom 4-D mask
        lm.__dict__["_adapter"] = replace(lm.adapter, mask_form="none")
    return lm


def method_names() -> list[str]:
    from siakit.scorer import methods

    return ["auto", *methods.METHODS]


def cell(lm, data, method: str, estimator: str, **extra) -> dict:
    """One (model, method, estimator): per row h_k, gold_logprob and the method label, or the error."""
    from siakit.scorer.score import score_traces

    try:
        frame = score_traces(lm, data, estimator=estimator, method=method, progress=False, **extra)
    except Exception as e:  # noqa: BLE001 - the error is the behaviour recorded
        return {"error": f"{type(e).__name__}: {e}"}
    nan = lambda v: None if v != v else float(v)  # noqa: E731  (JSON has no NaN)
    cells = {"ids": [f"{i}/{k}" for i, k in zip(frame.id, frame.k)],
             "method": [str(m) for m in frame.get("method", [None] * len(frame))]}
    for col in ("entropy", "gold_logprob", *EXTRA):
        if col in frame:
            cells[col] = [nan(v) for v in frame[col].to_numpy(float)]
    return cells


def run(models=MODELS) -> dict:
    import torch

    torch.set_num_threads(1)
    data = traces()
    out = {}
    for name in models:
        lm = load(name)
        for method in method_names():
            for estimator in ESTIMATORS:
                out[f"{name}/{method}/{estimator}"] = cell(lm, data, method, estimator, pack_tokens=10_000)
                print(f"{name}/{method}/{estimator}", "error" if "error" in out[f"{name}/{method}/{estimator}"]
                      else "ok", file=sys.stderr, flush=True)
        out[f"{name}/auto/rollout"] = cell(lm, data, "auto", "rollout", rollout_m=3, max_new_tokens=4,
                                           rollout_at=(0.5,))
    return out


def compare(new: dict, old: dict) -> tuple[dict, list[str]]:
    """({column: max |difference| over every cell}, the cells that differ otherwise)."""
    worst, broken = {}, []
    for key in sorted(set(new) | set(old)):
        a, b = new.get(key), old.get(key)
        if a is None or b is None or ("error" in a) != ("error" in b):
            broken.append(f"{key}: {a and a.get('error')} vs {b and b.get('error')}")
            continue
        if "error" in a:
            if a["error"] != b["error"]:
                broken.append(f"{key}: error {a['error']!r} vs {b['error']!r}")
            continue
        if a["ids"] != b["ids"] or a["method"] != b["method"]:
            broken.append(f"{key}: rows or method labels differ ({a['method'][:1]} vs {b['method'][:1]})")
            continue
        if set(a) != set(b):
            broken.append(f"{key}: columns {sorted(set(a) ^ set(b))} in one only")
        for col in set(a) & set(b) - {"ids", "method"}:
            for x, y in zip(a[col], b[col]):
                if (x is None) != (y is None):
                    broken.append(f"{key}: {col} NaN in one only")
                elif x is not None:
                    worst[col] = max(worst.get(col, 0.0), abs(x - y))
    return worst, broken


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file to write the cells to")
    parser.add_argument("--against", default=None, help="an earlier JSON to compare with")
    parser.add_argument("--tol", type=float, default=0.0, help="largest |dh| allowed (default: bit-identical)")
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parents[1]),
                        help="folder holding the siakit package to score with (default: this checkout)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(args.tree).resolve()))  # before the installed siakit
    import siakit

    print(f"siakit from {Path(siakit.__file__).parent}", file=sys.stderr)
    cells = run()
    with open(args.out, "w") as f:
        json.dump(cells, f, indent=0)
    n_err = sum("error" in c for c in cells.values())
    print(f"{len(cells)} cells ({n_err} record an error) -> {args.out}")
    if args.against is None:
        return 0
    with open(args.against) as f:
        worst, broken = compare(cells, json.load(f))
    print(f"max |dh| {worst.get('entropy', 0.0):.3g} over {len(cells)} cells; every other column: "
          f"{max(worst.values(), default=0.0):.3g} ({', '.join(sorted(worst))}); "
          + ("labels and errors equal" if not broken else f"{len(broken)} cells differ otherwise"))
    for line in broken:
        print("  " + line)
    return 0 if max(worst.values(), default=0.0) <= args.tol and not broken else 1


if __name__ == "__main__":
    sys.exit(main())
