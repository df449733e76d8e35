"""`siakit bench --sharing`: what prompt sharing saves, on the two workloads that share prompts.

- row (a) `human`: the human-traces chapter's four variants of a GSM8K problem (intact, corrupted,
  shuffled, foreign; `siakit.human.variants`), read by SmolLM2-135M-Instruct with the chapter's
  method (`tree`): the same prompt, four traces;
- row (b) `sampled`: 8 traces sampled per GSM8K question from Gemma-3-270M (base) under its few-shot
  prompt (`siakit.data.prompts.build_prompt`, chat=False), scored with `auto` (packed rows).

Each row scores the same layouts (`siakit.scorer.prepare.prepare`: readout, numeric candidate sets)
three ways in one run: `naive` (the oracle), the method with each trace its own trunk (`separate`)
and with traces of one prompt under one trunk (`shared`). For each: tokens fed to the model (every
forward call's input length, pads included), forward seconds, seconds of mask building inside them
(`siakit.scorer.mask_cost.MASK_CLOCK`), the largest |h_shared - h_naive| (and separate) in nats, and
the ratios separate / shared.

    python -m siakit bench --sharing --problems 4 --questions 2 --json
    {"kind": "sharing", "row": "a", "traces": 16, "tokens_separate": 9876, "tokens_shared": 5432,
     "seconds_separate": 4.1, "seconds_shared": 2.2, "speedup": 1.86, "max_dh_shared": 3e-06, ...}
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace


@dataclass
class SharingConfig:
    problems: int = 4              # row (a): GSM8K problems, four variant traces each
    questions: int = 2             # row (b): GSM8K questions, `samples` traces each
    samples: int = 8               # row (b): traces sampled per question (the 8)
    max_new_tokens: int = 160      # row (b): length cap of a sampled trace (GSM8K solutions fit)
    temperature: float = 1.0       # row (b): the model's own distribution
    seed: int = 0                  # problem order (a) and sampling seeds (b)
    random_weights: bool = False   # row (b): Gemma-3-270M's shape with random weights (no GGUF load);
                                   # the traces are then the model's random text, still 8 per prompt
    rows: str = "ab"               # which rows to run


def _counting(adapter):
    """`adapter` with `call` counting the tokens fed (input ids, pads included); returns the counter."""
    fed = [0]
    call = type(adapter).call

    def counted(ids, *args, **kwargs):
        fed[0] += int(ids.numel())
        return call(adapter, ids, *args, **kwargs)
    object.__setattr__(adapter, "call", counted)  # the adapter is a frozen dataclass: an instance override
    return fed


def _entropies(prepared, results, adapter) -> dict:
    """(trace id, k) -> readout entropy h_k (nats) from a forward result."""
    from siakit.scorer.score import readout_row

    out = {}
    for trace, _cue, cands, lay in prepared:
        opt, ent, _ = results[lay.id]
        for k in range(len(lay.bounds)):
            out[(trace.id, k)] = readout_row(opt[k], ent[k], cands, k, "readout", adapter, True)["entropy"]
    return out


def measure(lm, traces, method: str, row: str) -> dict:
    """One row: naive, separate and shared forward passes over the same prepared layouts."""
    from siakit.scorer.mask_cost import BLOCK_MASKS, MASK_CLOCK
    from siakit.scorer.prepare import prepare
    from siakit.scorer.schedule import forward_all
    from siakit.scorer.score import ScoreConfig

    cfg = ScoreConfig(progress=False)
    prepared = prepare(lm, traces, ("readout",), cfg)
    layouts = [p.layout for p in prepared]
    adapter = lm.adapter
    fed = _counting(adapter)
    out = {"kind": "sharing", "row": row, "model": lm.name, "method": method, "traces": len(traces),
           "prompts": len({t.prompt for t in traces}), "prefixes": sum(len(lay.bounds) for lay in layouts)}
    h = {}
    try:
        for name, how, share in (("naive", "naive", False), ("separate", method, False), ("shared", method, True)):
            fed[0] = 0
            MASK_CLOCK.reset()
            BLOCK_MASKS.clear()
            began = time.perf_counter()
            results = forward_all(adapter, layouts, how, cfg, share=share)
            out[f"seconds_{name}"] = round(time.perf_counter() - began, 3)
            out[f"mask_seconds_{name}"] = round(MASK_CLOCK.seconds, 4)
            out[f"tokens_{name}"] = fed[0]
            h[name] = _entropies(prepared, results, adapter)
    finally:
        object.__delattr__(adapter, "call")
    for name in ("separate", "shared"):
        out[f"max_dh_{name}"] = max(abs(h[name][key] - h["naive"][key]) for key in h["naive"])
    out["max_dh_shared_vs_separate"] = max(abs(h["shared"][key] - h["separate"][key]) for key in h["naive"])
    out["token_ratio"] = round(out["tokens_separate"] / out["tokens_shared"], 3)
    out["speedup"] = round(out["seconds_separate"] / out["seconds_shared"], 3)
    out["target"] = {"a": 1.3, "b": 3.0}[row]
    return out


def human_row(cfg: SharingConfig) -> dict:
    """Row (a): the chapter's four variants of `cfg.problems` problems, SmolLM2, method `tree`."""
    from siakit.human.cache import HumanRunConfig
    from siakit.human.variants import human_traces, select_problems
    from siakit.models.loading import load_model

    chapter = HumanRunConfig()
    lm = load_model(chapter.model)
    traces = human_traces(select_problems(cfg.problems, cfg.seed), lm.tokenizer, chat=lm.chat, seed=cfg.seed)
    return measure(lm, traces, chapter.method, "a")


def sampled_traces(lm, cfg: SharingConfig):
    """`cfg.samples` traces per question for the first `cfg.questions` GSM8K test questions, sampled
    under the model's own prompt (few-shot for a base model); trace ids `<problem>#s<j>`."""
    from siakit.data.problems import load_problems
    from siakit.experiment.generate import generate_traces

    problems = load_problems("gsm8k", "test")[: cfg.questions]
    copies = [replace(p, id=f"{p.id}#s{j}") for p in problems for j in range(cfg.samples)]
    return generate_traces(lm, copies, progress=False, max_new_tokens=cfg.max_new_tokens,
                           temperature=cfg.temperature, seed=cfg.seed, batch_size=cfg.samples)


def _gemma(cfg: SharingConfig):
    from siakit.models.loading import load_model

    lm = load_model("gemma3-270m")
    if cfg.random_weights:  # the same shape and tokenizer, seeded random weights
        import torch

        torch.manual_seed(cfg.seed)
        lm.model = type(lm.model)(lm.model.config).eval()
        lm.name = "gemma3-270m-random"
    return lm


def sampled_row(cfg: SharingConfig) -> dict:
    """Row (b): 8 sampled traces per question under Gemma-3-270M's few-shot prompt, method `auto`."""
    lm = _gemma(cfg)
    began = time.perf_counter()
    traces = sampled_traces(lm, cfg)
    row = measure(lm, traces, "packed", "b")
    row["generate_seconds"] = round(time.perf_counter() - began - sum(row[f"seconds_{n}"] for n in
                                                                      ("naive", "separate", "shared")), 1)
    row["random_weights"] = cfg.random_weights
    return row


def run(cfg: SharingConfig, emit=print) -> list[dict]:
    """The rows `cfg.rows` ("a", "b"), each emitted as soon as it is measured."""
    rows = []
    for name, fn in (("a", human_row), ("b", sampled_row)):
        if name in cfg.rows:
            rows.append(fn(cfg))
            emit(rows[-1])
    return rows


def main(args) -> int:
    cfg = SharingConfig(problems=args.problems, questions=args.questions, random_weights=args.random_weights,
                        rows=args.rows)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    def emit(row):
        print(json.dumps(row) if args.json else " | ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    print(json.dumps({"kind": "config", **asdict(cfg)}) if args.json else f"# {asdict(cfg)}", flush=True)
    run(cfg, emit)
    return 0
