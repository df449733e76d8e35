"""The toy experiment end to end: data law -> MLE checkpoints -> RL, all written to one folder.

`run_toy(cfg, out)` writes `out/summary.json` (curves and metrics per checkpoint, RL before/after,
parameters, seed, versions), `out/timings.json`, `out/checkpoints/*.pt`, `out/tokenizer/` and
`out/scores.parquet` (one row per (stage, checkpoint, trace id, k)). Everything is seeded: the same
config gives the same summary (timings live apart for that reason).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from siakit.models.loading import LoadedModel
from siakit.experiment.store import versions
from siakit.files import atomic_write_json, json_safe
from siakit.training.toy.evaluate import evaluate, human_bayes_curves
from siakit.training.toy.gpt import GPT, GPTConfig, save_gpt
from siakit.training.toy.humans import human_traces
from siakit.training.toy.rl import RLConfig, reinforce
from siakit.training.toy.text import Codec, build_tokenizer
from siakit.training.toy.train import TrainConfig, train_mle
from siakit.training.toy.world import WorldConfig, bayes_curve, sample_problem


@dataclass
class ToyConfig:
    name: str = "small"                                     # preset name, recorded in the summary
    world: WorldConfig = field(default_factory=WorldConfig)  # the data law (see world.py)
    gpt: GPTConfig = field(default_factory=GPTConfig)        # the tiny model (vocab set from the world)
    train: TrainConfig = field(default_factory=TrainConfig)  # MLE on human traces
    rl: RLConfig = field(default_factory=RLConfig)           # REINFORCE from the last MLE checkpoint
    n_eval: int = 256          # evaluation problems: one own trace each per checkpoint
    n_bayes: int = 4000        # complete human traces for the Bayes curves split by correctness
    seed: int = 0              # seeds data, initialisation, sampling and RL
    device: str = "cpu"        # "cuda" for the paper preset on a GPU
    threads: int = 1           # torch CPU threads: tiny matrices gain nothing from more, and lose a
                               # lot when other processes share the cores
    backend: str = "auto"      # readout: "scorer" (siakit.scorer; "auto" is the same) or "exact" (our loop)


PRESETS = {
    # seconds: for tests and papermill smoke runs; the model barely learns
    "tiny": ToyConfig(name="tiny", world=WorldConfig(n_terms=3),
                      gpt=GPTConfig(n_layer=2, n_embd=32, n_head=2),
                      train=TrainConfig(n_train=600, n_heldout=100, steps=30, batch_size=32, n_checkpoints=3),
                      rl=RLConfig(steps=3, questions=4, samples=4), n_eval=48, n_bayes=400),
    # ~3 min on one shared CPU core: 0.8 M parameters, 600 MLE steps, 50 RL updates
    "small": ToyConfig(name="small"),
    # six terms, 2.7 M parameters, 6000 steps: ~4 min on one H100 (measured), hours on a CPU
    "paper": ToyConfig(name="paper", world=WorldConfig(n_terms=6),
                       gpt=GPTConfig(n_layer=6, n_embd=192, n_head=6),
                       train=TrainConfig(n_train=200000, n_heldout=4000, steps=6000, batch_size=128,
                                         lr=1e-3, warmup=200, n_checkpoints=8),
                       rl=RLConfig(steps=300, questions=64, samples=8), n_eval=2000, n_bayes=20000),
}


def preset(name: str, **overrides) -> ToyConfig:
    """A preset with top-level fields replaced: preset("small", seed=1, n_eval=64)."""
    if name not in PRESETS:
        raise ValueError(f"unknown toy preset '{name}'; choose one of {sorted(PRESETS)}")
    return replace(PRESETS[name], **overrides)


def _stage_rows(df: pd.DataFrame, stage: str, step: int) -> pd.DataFrame:
    df = df.copy()
    df.insert(0, "stage", stage)
    df.insert(1, "checkpoint", step)
    df["option_probs"] = df["option_probs"].map(lambda p: [float(x) for x in p])
    return df


class ToyData(NamedTuple):
    """The traces and problems of one toy experiment, each drawn from its own seed."""
    corpus: list          # [train.n_train] human traces the model learns
    heldout: list         # [train.n_heldout] human traces for the held-out NLL
    complete: list        # [n_bayes] human traces run to the end, for the Bayes curve of human traces
    eval_problems: list   # [n_eval] problems the model answers at each checkpoint


def toy_data(cfg: ToyConfig) -> ToyData:
    """The experiment's data from `cfg.seed` .. `cfg.seed + 3`."""
    world = cfg.world
    rng = np.random.default_rng(cfg.seed + 3)
    return ToyData(corpus=human_traces(world, cfg.train.n_train, cfg.seed),
                   heldout=human_traces(world, cfg.train.n_heldout, cfg.seed + 1),
                   complete=human_traces(world, cfg.n_bayes, cfg.seed + 2, allow_stop=False),
                   eval_problems=[sample_problem(world, rng) for _ in range(cfg.n_eval)])


def _summary(cfg: ToyConfig, n_params: int, records: list, losses: list, rl_after: dict, history,
             complete: list) -> dict:
    """summary.json's content: the curves per checkpoint (`records`), the Bayes curves, RL before/after."""
    return json_safe({
        "preset": cfg.name, "seed": cfg.seed, "params": asdict(cfg), "versions": versions(),
        "n_params": n_params, "readout": "exact-loop" if cfg.backend == "exact" else "siakit.scorer",
        "cue": " answer", "estimator": "readout", "units": "nats",
        "checkpoints": [r["step"] for r in records],
        "bayes_curve": bayes_curve(cfg.world).tolist(),
        "bayes_human": human_bayes_curves(complete, cfg.world),
        "model_curves": [{"step": r["step"], "correct": r["h_correct"], "incorrect": r["h_incorrect"],
                          "all": r["h_all"], "bayes_own": r["bayes_own_all"], "n_correct": r["n_correct"],
                          "n_incorrect": r["n_incorrect"]} for r in records],
        "heldout_nll": [r["nll"] for r in records], "heldout_nll_data": records[0]["nll_data"],
        "heldout_kl": [r["kl"] for r in records],
        "accuracy": [r["accuracy"] for r in records],
        "separability": [r["auroc"] for r in records],
        "checkpoint_metrics": records,
        "train_loss": losses[:: max(1, len(losses) // 100)],
        "rl": {"config": asdict(cfg.rl), "before": records[-1], "after": {"step": cfg.rl.steps, **rl_after},
               "history": history},
    })


def run_toy(cfg: ToyConfig, out: str | Path, progress: bool = True) -> dict:
    """Run the whole toy experiment into `out`; returns the summary dict."""
    out = Path(out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    timings, t0 = {}, time.time()
    world, codec = cfg.world, Codec(cfg.world)
    tokenizer = build_tokenizer(world)
    tokenizer.save_pretrained(out / "tokenizer")
    data = toy_data(cfg)
    timings["data_s"] = time.time() - t0

    torch.manual_seed(cfg.seed)
    gpt_cfg = replace(cfg.gpt, vocab_size=len(world.vocab))
    model = GPT(gpt_cfg).to(cfg.device)
    lm = LoadedModel(model=model, tokenizer=tokenizer, name=f"toy-gpt-{cfg.name}", chat=False,
                     meta={"spec": "siakit.training.toy", "n_params": model.n_params()})
    records, frames = [], []

    def on_checkpoint(step, m):
        t = time.time()
        save_gpt(m, out / "checkpoints" / f"step_{step:06d}.pt", world=asdict(world), step=step)
        metrics, df = evaluate(lm, codec, data.eval_problems, data.heldout, cfg.seed + 4, cfg.backend)
        records.append({"step": step, **metrics})
        frames.append(_stage_rows(df, "mle", step))
        timings[f"eval_step_{step}_s"] = time.time() - t

    t = time.time()
    losses = train_mle(model, codec, data.corpus, cfg.train, cfg.seed, on_checkpoint, progress)
    timings["mle_s"] = time.time() - t

    t = time.time()
    history = reinforce(model, codec, cfg.rl, cfg.seed + 5, progress)
    timings["rl_s"] = time.time() - t
    save_gpt(model, out / "checkpoints" / "rl_final.pt", world=asdict(world), step=cfg.train.steps)
    after, df_rl = evaluate(lm, codec, data.eval_problems, data.heldout, cfg.seed + 4, cfg.backend)
    frames.append(_stage_rows(df_rl, "rl", cfg.rl.steps))
    pd.concat(frames, ignore_index=True).to_parquet(out / "scores.parquet", index=False)

    summary = _summary(cfg, model.n_params(), records, losses, after, history, data.complete)
    atomic_write_json(out / "summary.json", summary)
    timings["total_s"] = time.time() - t0
    atomic_write_json(out / "timings.json", timings)
    return summary


def load_or_run(cfg: ToyConfig, out: str | Path, progress: bool = True) -> dict:
    """`out/summary.json` when it was made with exactly these parameters, else `run_toy(cfg, out)`."""
    path = Path(out) / "summary.json"
    if path.exists():
        summary = json.loads(path.read_text())
        if summary.get("params") == json.loads(json.dumps(json_safe(asdict(cfg)))):
            return summary
    return run_toy(cfg, out, progress)

