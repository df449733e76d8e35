"""Supervised fine-tuning of a real LM on human traces, and its conditional-answer-entropy dynamics.

`run_sft(cfg, out)`: generate traces of the base model on held-out GSM8K test and SVAMP problems, fine-
tune it by maximum likelihood on GSM8K *train* human solutions (`siakit.training.sft.data`), generate again, and
score both sets of traces through the project's scorer with candidate sets built from each prefix
only (`siakit.scorer.candidates`: never the gold, the trace's own answer or a later step). Writes `out/summary.json`, `out/traces_{before,after}.jsonl`, `out/scores.parquet` and the
fine-tuned model in `out/model/` (loadable with `siakit.models.loading.load_model(out/model)`).
Stages already in `out` with the same parameters are reused (a killed run resumes).

    siakit sft --out results/sft                         # CPU default, a few minutes
    siakit sft --out results/sft-gpu --device cuda --n-train 2000 --steps 500 --n-eval 200
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import NamedTuple

import torch

from siakit.analysis.summary import summarize_run
from siakit.files import atomic_write_json, atomic_write_text, json_safe

# Bumped when the per-stage summary's keys or the readout's candidate sets change (3: prefix-only sets),
# so a cached summary.json is recomputed.
SUMMARY_SCHEMA = 3
from siakit.models.objectives import Example, solution_loss
from siakit.training.sft.data import epoch_batches, gsm8k_solutions, sft_examples
from siakit.progress import progress_bar


@dataclass
class SFTConfig:
    model: str = "smollm2-135m-instruct"  # any load_model spec; the embedded one works offline
    n_train: int = 64            # GSM8K train solutions learned (human traces, <= max_len tokens)
    n_heldout: int = 16          # other train solutions for the held-out NLL before/after
    max_len: int = 256           # longest example in tokens (longer solutions are skipped)
    steps: int = 16              # optimizer steps (16 x 4 = one epoch of 64 examples)
    batch_size: int = 4          # examples per step
    lr: float = 5e-5             # AdamW peak, linear decay to 0 (small: few steps, a pretrained model)
    train_layers: int = 0        # 0 = full fine-tune; n = only the top n decoder blocks (+ final norm).
                                 # Top-6-only runs of ours made the model jump to "The answer is N."
    datasets: tuple = ("gsm8k", "svamp")  # held-out evaluation sets (test splits)
    n_eval: int = 8              # evaluation problems per dataset
    max_new_tokens: int = 128    # generation cap; GSM8K human solutions fit in ~100 tokens
    seed: int = 0                # data sampling, shuffling; generation is greedy
    device: str = "cpu"          # "cuda" to scale up
    threads: int | None = None   # torch CPU threads (None: torch's default, OMP_NUM_THREADS under --jobs)
    save_model: bool = True      # write out/model (~540 MB in float32)


def _trainable(model, train_layers: int) -> list[torch.nn.Parameter]:
    """Freeze all but the top `train_layers` decoder blocks and the final norm (0: train everything)."""
    base = model.base_model
    if train_layers <= 0 or not hasattr(base, "layers"):
        return [p.requires_grad_(True) for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    blocks = list(base.layers[-train_layers:]) + ([base.norm] if hasattr(base, "norm") else [])
    return [p.requires_grad_(True) for m in blocks for p in m.parameters()]


@torch.no_grad()
def heldout_nll(model, examples: list[Example], pad_id: int, batch_size: int = 8) -> float:
    """Mean NLL per solution token (nats) of held-out human solutions."""
    model.eval()
    total, count = 0.0, 0
    for s in range(0, len(examples), batch_size):
        loss, n = solution_loss(model, examples[s:s + batch_size], pad_id)
        total, count = total + float(loss), count + n
    return total / max(count, 1)


def finetune(model, examples: list[Example], cfg: SFTConfig, pad_id: int, progress: bool = True) -> list[float]:
    """MLE on the solutions, in place; returns the loss per step (nats per solution token)."""
    params = _trainable(model, cfg.train_layers)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    rng = random.Random(cfg.seed)
    batches: list[list[int]] = []
    lengths = [len(e.input_ids) for e in examples]
    losses = []
    model.train()
    for step in progress_bar(range(cfg.steps), desc="SFT", enabled=progress):
        if not batches:  # a fresh epoch, in length-grouped batches (little padding)
            batches = epoch_batches(lengths, cfg.batch_size, rng)
        batch = [examples[i] for i in batches.pop()]
        loss, n = solution_loss(model, batch, pad_id)
        loss = loss / n
        for g in opt.param_groups:
            g["lr"] = cfg.lr * (1 - step / cfg.steps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    return losses


def _stage(out: Path, name: str, params: dict, make, load, save):
    """Reuse `out/name` when it was made with the same params, else make, save and record it."""
    stamp = out / f".{name}.params.json"
    key = json.dumps(params, sort_keys=True, default=str)
    if stamp.exists() and stamp.read_text() == key and (out / name).exists():
        return load(out / name)
    value = make()
    save(out / name, value)
    atomic_write_text(stamp, key)
    return value


class SFTData(NamedTuple):
    """The examples and problems of one SFT comparison."""
    train: list          # [n_train] Example: the GSM8K train solutions learned
    heldout: list        # [n_heldout] Example: other train solutions, for the held-out NLL
    problems: list       # Problem: the first n_eval test problems of each evaluation set


def sft_data(cfg: SFTConfig, tokenizer) -> SFTData:
    """Train and held-out examples (GSM8K train solutions that fit `max_len`) and evaluation problems."""
    from siakit.data.problems import load_problems

    pairs = gsm8k_solutions("train", n=3 * (cfg.n_train + cfg.n_heldout), seed=cfg.seed)
    examples = sft_examples(tokenizer, pairs, cfg.max_len)
    if len(examples) < cfg.n_train + cfg.n_heldout:
        raise ValueError(f"only {len(examples)} GSM8K solutions fit max_len={cfg.max_len}; lower n_train")
    problems = [p for ds in cfg.datasets for p in load_problems(ds, "test", n=cfg.n_eval, seed=cfg.seed)]
    return SFTData(examples[:cfg.n_train], examples[cfg.n_train:cfg.n_train + cfg.n_heldout], problems)


def _train_params(params: dict) -> dict:
    """What the fine-tuned model depends on: every SFTConfig field but the evaluation's, and the batching."""
    train_params = {k: v for k, v in params.items() if k not in ("n_eval", "datasets", "max_new_tokens", "threads")}
    train_params["batching"] = "length-grouped"  # epoch_batches; models trained on random batches are not reused
    return train_params


def _train_or_reuse(cfg: SFTConfig, lm, train: list, pad: int, out: Path, train_params: dict, progress: bool):
    """Fine-tune `lm` on `train` (saving the model and `train_log.json`), or reuse a finished earlier
    run's weights and log made with the same `train_params`. Returns (model, log)."""
    from siakit.models.loading import load_model

    model_dir = out / "model"
    stamp, key = out / ".model.params.json", json.dumps(train_params, sort_keys=True, default=str)
    if (cfg.save_model and stamp.exists() and stamp.read_text() == key and (model_dir / "config.json").exists()
            and (out / "train_log.json").exists()):
        lm = load_model(str(model_dir), device=cfg.device)  # a finished earlier run: reuse its weights
        return lm, json.loads((out / "train_log.json").read_text())
    log = {"losses": finetune(lm.model, train, cfg, pad, progress)}
    if cfg.save_model:
        lm.model.save_pretrained(model_dir)
        lm.tokenizer.save_pretrained(model_dir)
    atomic_write_json(out / "train_log.json", log)
    atomic_write_text(stamp, key)
    return lm, log


def _stage_results(scores, before: list, after: list, datasets) -> dict:
    """summarize_run per "<stage>/<dataset>" (stage: before, after)."""
    results = {}
    for stage, traces in (("before", before), ("after", after)):
        for ds in datasets:
            part = [t for t in traces if t.dataset == ds]
            ids = {t.id for t in part}
            df = scores[(scores.stage == stage) & scores.id.isin(ids)]
            results[f"{stage}/{ds}"] = summarize_run(df, part)
    return results


def _score_both(cfg: SFTConfig, sft_lm, before: list, after: list, progress: bool):
    """Both sets of traces scored, each by its own model (the base reloaded): one frame with `stage`."""
    import pandas as pd

    from siakit.models.loading import load_model
    from siakit.scorer.score import score_traces

    frames = [score_traces(sft_lm, after, progress=progress).assign(stage="after")]
    base = load_model(cfg.model, device=cfg.device)
    frames.insert(0, score_traces(base, before, progress=progress).assign(stage="before"))
    return pd.concat(frames, ignore_index=True)


def run_sft(cfg: SFTConfig, out: str | Path, progress: bool = True) -> dict:
    """The whole before/after comparison into `out`; returns the summary dict."""
    from siakit.experiment.generate import generate_traces
    from siakit.models.loading import load_model
    from siakit.experiment.store import versions
    from siakit.data.traces import read_traces, write_traces

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    params = asdict(cfg)
    timings, t0 = {}, time.time()
    lm = load_model(cfg.model, device=cfg.device)
    pad = lm.tokenizer.pad_token_id
    data = sft_data(cfg, lm.tokenizer)

    def generate(model_lm):
        return generate_traces(model_lm, data.problems, max_new_tokens=cfg.max_new_tokens, batch_size=8,
                               seed=cfg.seed, progress=progress)

    def timed(name, make):
        t = time.time()
        value = make()
        timings[name] = time.time() - t
        return value

    gen_params = {k: params[k] for k in ("model", "datasets", "n_eval", "max_new_tokens", "seed")}
    before = timed("generate_before_s", lambda: _stage(out, "traces_before.jsonl", gen_params, lambda: generate(lm),
                                                        read_traces, write_traces))
    nll_before = heldout_nll(lm.model, data.heldout, pad)
    train_params = _train_params(params)
    sft_lm, log = timed("train_s", lambda: _train_or_reuse(cfg, lm, data.train, pad, out, train_params, progress))
    nll_after = heldout_nll(sft_lm.model, data.heldout, pad)
    sft_lm.name = f"{Path(cfg.model).name}-sft"
    after = timed("generate_after_s", lambda: _stage(out, "traces_after.jsonl", {**gen_params, **train_params},
                                                      lambda: generate(sft_lm), read_traces, write_traces))

    scores = timed("score_s", lambda: _score_both(cfg, sft_lm, before, after, progress))
    scores.to_parquet(out / "scores.parquet", index=False)
    summary = json_safe({"model": cfg.model, "params": params, "summary_schema": SUMMARY_SCHEMA, "seed": cfg.seed,
                         "versions": versions(), "estimator": "readout", "cue": before[0].cue if before else None,
                         "units": "nats", "n_train_examples": len(data.train),
                         "heldout_nll": {"before": nll_before, "after": nll_after}, "train_loss": log["losses"],
                         "results": _stage_results(scores, before, after, cfg.datasets),
                         "model_dir": str(out / "model") if cfg.save_model else None})
    atomic_write_json(out / "summary.json", summary)
    timings["total_s"] = time.time() - t0
    atomic_write_json(out / "timings.json", timings)
    return summary


def load_or_run(cfg: SFTConfig, out: str | Path, progress: bool = True) -> dict:
    """`out/summary.json` when it was made with exactly these parameters, else `run_sft(cfg, out)`."""

    path = Path(out) / "summary.json"
    if path.exists() and (Path(out) / "scores.parquet").exists():
        summary = json.loads(path.read_text())
        if summary.get("params") == json.loads(json.dumps(json_safe(asdict(cfg)))) and \
                summary.get("summary_schema") == SUMMARY_SCHEMA:
            return summary
    return run_sft(cfg, out, progress)


def register(subparsers) -> None:
    p = subparsers.add_parser("sft", help="fine-tune a real LM on GSM8K human solutions; entropy dynamics before/after",
                              description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="output folder (summary.json, traces, scores.parquet, model/)")
    for f in fields(SFTConfig):
        if f.name == "datasets":
            p.add_argument("--datasets", nargs="+", default=None, help=f"evaluation sets (default {f.default})")
        elif f.name == "save_model":
            p.add_argument("--no-save-model", dest="save_model", action="store_false", default=None,
                           help="do not write out/model")
        else:
            p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=None,
                           help=f"default {f.default}")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--force", action="store_true", help="write into --out even if it holds files")
    p.set_defaults(func=_main)


def _main(args) -> int:
    overrides = {f.name: getattr(args, f.name) for f in fields(SFTConfig) if getattr(args, f.name) is not None}
    if "datasets" in overrides:
        overrides["datasets"] = tuple(overrides["datasets"])
    for name in ("n_train", "steps", "batch_size", "n_eval", "max_new_tokens", "max_len"):
        if name in overrides and overrides[name] < 1:
            raise ValueError(f"--{name.replace('_', '-')}: must be >= 1, got {overrides[name]}")
    from siakit.files import mark_own, refuse_existing

    cfg = SFTConfig(**overrides)
    refuse_existing(args.out, args.force, "sft", own=True)  # a folder of siakit sft's own is resumed
    mark_own(args.out, "sft")
    summary = run_sft(cfg, args.out, progress=not args.quiet)
    print(json.dumps({"out": args.out, "heldout_nll": summary["heldout_nll"],
                      "accuracy": {k: v["accuracy"] for k, v in summary["results"].items()}}, indent=1))
    return 0
