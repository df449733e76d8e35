"""Sizing a sweep: generation throughput measured once, turned into GPU-hours for a runs file.

    siakit bench --generate --shape llama-1b --batch 32 --device cuda --dtype bfloat16 --runs runs/paper.yml
    siakit bench --generate --samples 8 --batch 4 --prompt-tokens 128 --new-tokens 32   # shared prefill

1. `generation_throughput` times the `model.generate` call that `siakit run` makes (greedy, batched,
   left-padded prompts) on a random-weight model of a `siakit bench` shape, forcing every row to its full
   length (`min_new_tokens`), and returns new tokens per second.
2. `run_sizes` reads a runs file: per run the tokens it generates at most (n traces at their cap, plus
   `candidate_samples` continuations of `ScoreConfig.candidate_max_new_tokens` per numeric question,
   which the readout samples) and the model's nominal size from its name ("Qwen2.5-7B" -> 7).
3. `sizing_table` turns one throughput into hours, assuming batched decoding is bound by reading the
   weights, so tokens/s scales as 1 / parameters (an assumption: check it on a second size). Upper
   bounds, as most traces stop before their cap; scoring (one packed pass per trace) is left out.

    sizing_table([RunSize("m__gsm8k", "m-1B", "gsm8k", 500, 512, 0, 256, 1.0)], 1000.0, 1.0, gpus=(1, 8))
    -> [{"gpus": 1, "gpu_hours": 0.071, "wall_hours_split": 0.071, "wall_hours_pages": 0.071}, {"gpus": 8, ...}]
"""
from __future__ import annotations

import heapq
import re
import time
from dataclasses import dataclass
from pathlib import Path

SIZE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[bB](?![a-zA-Z0-9])")  # "Qwen2.5-0.5B" -> 0.5, "gemma-2-9b-it" -> 9


def nominal_params_b(model: str) -> float:
    """Billions of parameters named in a model id (the last size in it); an error names the model.

        nominal_params_b("Qwen/Qwen2.5-1.5B-Instruct") -> 1.5;  nominal_params_b("allenai/OLMo-2-0425-1B-SFT") -> 1.0
    """
    found = [m.group(1) for m in SIZE.finditer(model.split("/")[-1].replace("_", "-"))]
    if not found:
        raise ValueError(f"model {model!r}: no size such as '1.5B' in its name; sizing needs one")
    return float(found[-1])


@dataclass
class RunSize:
    name: str                    # the run's page name (model__dataset)
    model: str
    dataset: str
    n: int                       # traces generated
    max_new_tokens: int          # cap per trace
    candidate_samples: int       # readout continuations sampled per numeric question
    candidate_max_new_tokens: int  # cap per continuation
    params_b: float              # nominal billions of parameters
    fields: object = None        # column names of a table dataset (siakit.data.tables.Fields); None: defaults

    @property
    def tokens(self) -> int:
        """New tokens at most: traces at their cap, plus the readout's samples (numeric datasets only)."""
        from siakit.data.problems import is_multiple_choice

        samples = 0 if is_multiple_choice(self.dataset, self.fields) else self.candidate_samples
        return self.n * (self.max_new_tokens + samples * self.candidate_max_new_tokens)


def run_sizes(runs_file: str | Path, root: str | Path = ".") -> list[RunSize]:
    """One RunSize per run of a runs file (a run whose `n` is 'all' is an error naming it)."""
    from siakit.data.tables import fields_of
    from siakit.experiment.config import RunConfig
    from siakit.report.jobs import load_runs
    from siakit.scorer.score import ScoreConfig

    out = []
    for job in load_runs(Path(runs_file), Path(root)):
        if job.kind != "run":
            continue
        p = job.parameters
        if not isinstance(p.get("n"), int):
            raise ValueError(f"{runs_file}: run {job.name} has n={p.get('n')!r}; sizing needs a number")
        out.append(RunSize(job.name, p["model"], p["dataset"], p["n"],
                           int(p.get("max_new_tokens", RunConfig.max_new_tokens)),
                           int(p.get("candidate_samples", RunConfig.candidate_samples)),
                           ScoreConfig.candidate_max_new_tokens,
                           nominal_params_b(p["model"]), fields_of(p)))
    return out


def _makespan(hours: list[float], gpus: int) -> float:
    """Longest-first list scheduling of indivisible pages onto `gpus`: the finishing time.

        _makespan([3, 2, 2, 1], 2) -> 4.0
    """
    loads = [0.0] * gpus
    for h in sorted(hours, reverse=True):
        heapq.heapreplace(loads, loads[0] + h)
    return max(loads)


def sizing_table(sizes: list[RunSize], tokens_per_s: float, measured_params_b: float,
                 gpus: tuple = (1, 8, 64)) -> list[dict]:
    """GPU-hours of generating `sizes` at `tokens_per_s` (measured on a `measured_params_b` model),
    scaled per run by measured_params_b / run params. Per GPU count: hours if every run is split over
    all GPUs (torchrun), and if runs are whole pages (`--jobs`, a SLURM array)."""
    if tokens_per_s <= 0:
        raise ValueError(f"tokens_per_s must be > 0, got {tokens_per_s}")
    hours = [s.tokens / (tokens_per_s * measured_params_b / s.params_b) / 3600 for s in sizes]
    total = sum(hours)
    return [{"gpus": g, "gpu_hours": round(total, 3), "wall_hours_split": round(total / g, 3),
             "wall_hours_pages": round(_makespan(hours, g), 3)} for g in gpus]


def generation_throughput(shape: str = "llama-1b", batch: int = 32, prompt_tokens: int = 128,
                          new_tokens: int = 64, device: str = "cpu", dtype: str = "float32",
                          seed: int = 0) -> dict:
    """New tokens/s of batched greedy `generate` on a random-weight `shape` (`siakit bench` shapes);
    one short warm-up call first. Every row generates exactly `new_tokens`."""
    import torch

    from siakit.scorer.bench import build_model

    model, n_params = build_model(shape, dtype, device)
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (batch, prompt_tokens), generator=g).to(device)
    mask = torch.ones_like(ids)

    def generate(n: int):
        with torch.no_grad():
            return model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n,
                                  do_sample=False, temperature=None, top_p=None, top_k=None,
                                  pad_token_id=0, eos_token_id=None)

    generate(2)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    out = generate(new_tokens)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    made = (out.shape[1] - prompt_tokens) * batch
    return {"kind": "generate", "shape": shape, "params_b": round(n_params / 1e9, 3), "dtype": dtype,
            "device": device, "batch": batch, "prompt_tokens": prompt_tokens, "new_tokens": new_tokens,
            "generated": made, "seconds": round(seconds, 3), "tokens_per_s": round(made / seconds, 1),
            "threads": torch.get_num_threads()}


def shared_sampling_throughput(model: str = "smollm2-135m-instruct", prompts: int = 4, samples: int = 8,
                               prompt_tokens: int = 128, new_tokens: int = 32, seed: int = 0) -> dict:
    """Sampling `samples` continuations of each of `prompts` random prompts (one batch of prompts x
    samples rows), with the prompt encoded once per prompt (`siakit.models.shared_prefill`) against
    once per row. The seeds are the same, so both sample the same tokens; a warm-up call first.

        shared_sampling_throughput(prompts=4, samples=8) -> {"prefill_tokens_shared": 512,
            "prefill_tokens_separate": 4096, "generated": 1024, "speedup": 1.21, ...}
            (speedup: separate seconds / shared seconds, measured on a busy 2-core CPU)
    """
    import torch

    from siakit.models.loading import load_model
    from siakit.models.shared_prefill import sample_continuations

    lm = load_model(model)
    g = torch.Generator().manual_seed(seed)
    contexts = torch.randint(3, lm.tokenizer.vocab_size, (prompts, prompt_tokens), generator=g).tolist()
    counts, seeds = [samples] * prompts, list(range(prompts))
    sample_continuations(lm, contexts[:1], [2], [0], 2, batch_rows=2)  # warm-up
    row = {"kind": "shared-sampling", "model": lm.name, "prompts": prompts, "samples": samples,
           "prompt_tokens": prompt_tokens, "new_tokens": new_tokens, "threads": torch.get_num_threads()}
    for name, shared in (("shared", True), ("separate", False)):
        stats: dict = {}
        sample_continuations(lm, contexts, counts, seeds, new_tokens, batch_rows=prompts * samples,
                             shared=shared, stats=stats)
        row[f"{name}_s"] = round(stats["seconds"], 3)
        row[f"{name}_prefill_s"] = round(stats["prefill_s"], 3)
        row[f"prefill_tokens_{name}"] = stats["prefill_tokens"]
        row["generated"] = stats["new_tokens"]
        row[f"{name}_tokens_per_s"] = round(stats["new_tokens"] / stats["seconds"], 1)
    row["speedup"] = round(row["separate_s"] / row["shared_s"], 2)
    return row


def report(args) -> int:
    """`siakit bench --generate`: measure, print the throughput row, then the sizing table of `--runs`."""
    import json

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.samples:  # shared against separate prefill of a prompt's samples, on a real model
        row = shared_sampling_throughput(args.sample_model, args.batch, args.samples, args.prompt_tokens, args.new_tokens)
        print(json.dumps(row) if args.json else " | ".join(f"{k} {v}" for k, v in row.items()))
        return 0
    row = generation_throughput(args.shape, args.batch, args.prompt_tokens, args.new_tokens, args.device,
                                args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32"))
    sizes = run_sizes(args.runs)
    table = sizing_table(sizes, row["tokens_per_s"], row["params_b"])
    if args.json:
        print(json.dumps(row))
        for line in table:
            print(json.dumps({"kind": "sizing", "runs": str(args.runs), **line}))
        return 0
    print(" | ".join(f"{k} {v}" for k, v in row.items()))
    print(f"# {args.runs}: {len(sizes)} runs, {sum(s.tokens for s in sizes) / 1e6:.1f} M new tokens at most; "
          f"tokens/s scaled by {row['params_b']}B / the run's nominal size")
    print("GPUs | GPU-hours | wall hours (runs split, torchrun) | wall hours (whole pages, --jobs / SLURM)")
    for line in table:
        print(f"{line['gpus']} | {line['gpu_hours']:.1f} | {line['wall_hours_split']:.1f} | {line['wall_hours_pages']:.1f}")
    return 0
