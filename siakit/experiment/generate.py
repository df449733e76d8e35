"""Batched chain-of-thought generation: problems -> reasoning traces (and the `siakit generate` command)."""
from __future__ import annotations

import argparse
import hashlib
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from siakit.data.answers import extract_answer, grade
from siakit.data.problems import Problem, load_problems
from siakit.data.prompts import CUE, STOP_STRINGS, build_prompt, cut_at_stop, options_for
from siakit.data.traces import Trace, split_steps, write_traces
from siakit.progress import progress_bar


@dataclass
class GenerateConfig:
    max_new_tokens: int = 256   # GSM8K solutions fit in ~150 tokens; longer rarely helps a small model
    temperature: float = 0.0    # 0 = greedy (deterministic); > 0 samples
    top_p: float = 1.0          # nucleus sampling cut (only when temperature > 0)
    seed: int = 0               # each trace samples from its own generator seeded by (seed, problem id),
                                # so a resumed or re-batched run equals a fresh one
    batch_size: int = 8         # 8 roughly doubles tokens/s over 1 on 2 CPU cores
    cue: str = CUE              # recorded with every trace; the prompts ask for this phrase
    samples: int = 1            # traces per problem; > 1 samples them (temperature > 0, top_p = 1) with
                                # the prompt encoded once and its cache shared (siakit.models.shared_prefill),
                                # trace ids "<problem id>#<i>"


def encode(tokenizer, texts: Sequence[str], **kwargs):
    """Tokenize prompts; special tokens are added only when the text does not already start with BOS
    (chat templates such as Llama-3's write BOS themselves)."""
    bos = tokenizer.bos_token
    add = not (bos and all(t.startswith(bos) for t in texts))
    return tokenizer(list(texts), add_special_tokens=add, **kwargs)



def problem_seed(seed: int, problem_id: str) -> int:
    """The sampling seed of one trace: a hash of (run seed, problem id), independent of batching.

        problem_seed(0, "gsm8k-test-0") -> 0 <= int < 2**62, the same on every machine and run
    """
    digest = hashlib.sha256(f"{seed}:{problem_id}".encode()).hexdigest()
    return int(digest[:15], 16)


class RowSampler:
    """A logits processor that samples each row's next token with that row's own torch.Generator
    (temperature, then nucleus top-p) and leaves only that token finite, so that greedy decoding
    emits it. A trace's tokens then depend on (seed, problem id) alone, not on which other problems
    share its batch or on how many batches ran before it.

    scores: [batch, vocab] -> [batch, vocab] (0 at the sampled token, -inf elsewhere)
    """

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float, device):
        import torch

        self.temperature, self.top_p = temperature, top_p
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]

    def __call__(self, input_ids, scores):
        import torch

        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_probs, order = probs.sort(dim=-1, descending=True)
            drop = sorted_probs.cumsum(-1) - sorted_probs > self.top_p  # keep the smallest set reaching top_p
            probs = probs.scatter(-1, order, sorted_probs.masked_fill(drop, 0.0))
        tokens = torch.stack([torch.multinomial(row, 1, generator=g)[0] for row, g in zip(probs, self.generators)])
        out = torch.full_like(scores, float("-inf"))
        return out.scatter(-1, tokens[:, None], 0.0)


def trace_from_text(problem: Problem, prompt: str, text: str, *, model: str, chat: bool, cue: str = CUE,
                    meta: dict | None = None, truncated: bool = False) -> Trace:
    """One generated completion -> our trace: a base model's text cut at the next few-shot question,
    split into steps, its answer read and graded (any engine's text goes through here: vLLM too).

    trace_from_text(Problem("p1", "gsm8k", "2+2?", "4"), "Q: 2+2?", "2+2=4.\\nThe answer is 4.",
                    model="m", chat=True)
    -> a Trace with steps ["2+2=4.\\n", "The answer is 4."], answer "4", correct True
    """
    text = text if chat else cut_at_stop(text)
    labels = [label for label, _ in problem.choices] if problem.choices else None
    answer = extract_answer(text, labels, truncated=truncated)  # truncated: cut by the length cap
    multiple_choice = bool(problem.choices)  # from the problem: the file is not re-read per trace
    return Trace(id=problem.id, prompt=prompt, steps=split_steps(text), dataset=problem.dataset, model=model,
                 cue=cue, options=options_for(problem), gold=problem.gold, answer=answer,
                 correct=grade(answer, problem.gold, multiple_choice),
                 meta={**(meta or {}), "question": problem.question})



def generate_traces(lm, problems: Sequence[Problem], config: GenerateConfig | None = None,
                    on_batch: Callable[[list[Trace]], None] | None = None, progress: bool = True,
                    **overrides) -> list[Trace]:
    """Generate one reasoning trace per problem with `lm` (a `siakit.models.loading.LoadedModel`).

    Each trace keeps `prompt + "".join(steps)` equal to prompt + generated text (special tokens dropped,
    base-model text cut at the next few-shot question). `on_batch` receives each finished batch (the
    results store uses it to save as it goes).
    """
    config = _checked_config(config or GenerateConfig(), overrides, problems)
    if config.samples > 1:
        return _shared_prompt_traces(lm, problems, config, on_batch, progress)
    lm.tokenizer.padding_side = "left"  # decoder-only generation needs the prompts flush right
    traces: list[Trace] = []
    bar = progress_bar(total=len(problems), desc=f"generate {lm.name}", unit="trace", enabled=progress)
    for i in range(0, len(problems), config.batch_size):
        batch = problems[i:i + config.batch_size]
        batch_traces = _generate_batch(lm, batch, config)
        traces += batch_traces
        if on_batch:
            on_batch(batch_traces)
        bar.update(len(batch))
    bar.close()
    return traces


def _checked_config(config: GenerateConfig, overrides: dict, problems: Sequence[Problem]) -> GenerateConfig:
    """`config` with `overrides` set on it, checked with the problem ids (unique) before any work."""
    for key, value in overrides.items():
        if not hasattr(config, key):
            raise ValueError(f"unknown generation parameter '{key}'")
        setattr(config, key, value)
    if config.max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {config.max_new_tokens}")
    if config.batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {config.batch_size}")
    if not 0 < config.top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {config.top_p}")
    ids = [p.id for p in problems]
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"generate_traces: problem id '{duplicate}' appears twice; ids must be unique")
    return config


def _generate_batch(lm, batch: Sequence[Problem], config: GenerateConfig) -> list[Trace]:
    """One `model.generate` call over a batch of problems (left-padded prompts) -> one trace each."""
    import torch
    from transformers import LogitsProcessorList

    tokenizer = lm.tokenizer
    prompts = [build_prompt(p, tokenizer, chat=lm.chat) for p in batch]
    inputs = encode(tokenizer, prompts, return_tensors="pt", padding=True).to(lm.device)
    seeds = [problem_seed(config.seed, p.id) for p in batch]
    # Sampling happens in RowSampler with one generator per trace; generate() itself stays greedy.
    processors = [RowSampler(seeds, config.temperature, config.top_p, lm.device)] if config.temperature > 0 else []
    started = time.perf_counter()
    with torch.no_grad():
        output = lm.model.generate(
            **inputs, max_new_tokens=config.max_new_tokens, do_sample=False, temperature=None, top_p=None,
            top_k=None, pad_token_id=tokenizer.pad_token_id, logits_processor=LogitsProcessorList(processors),
            stop_strings=None if lm.chat else STOP_STRINGS, tokenizer=tokenizer)
    seconds = time.perf_counter() - started
    new_tokens = output[:, inputs["input_ids"].shape[1]:]
    traces = []
    for problem, prompt, tokens, row_seed in zip(batch, prompts, new_tokens, seeds):
        raw = tokenizer.decode(tokens, skip_special_tokens=True)
        n_new = int((tokens != tokenizer.pad_token_id).sum())
        # stopped by the length cap (no EOS, no few-shot stop): the last number may be cut short
        truncated = (n_new >= config.max_new_tokens and tokenizer.eos_token_id not in tokens.tolist()
                     and (lm.chat or cut_at_stop(raw) == raw))
        traces.append(trace_from_text(
            problem, prompt, raw, model=lm.name, chat=lm.chat, cue=config.cue, truncated=truncated,
            meta={"n_new_tokens": n_new, "max_new_tokens": config.max_new_tokens, "truncated": truncated,
                  "batch_seconds": round(seconds, 3),
                  "temperature": config.temperature, "seed": row_seed}))
    return traces


def _shared_prompt_traces(lm, problems: Sequence[Problem], config: GenerateConfig, on_batch, progress: bool):
    """`config.samples` sampled traces per problem, each prompt prefilled once for all of its samples;
    sample i of a problem is seeded by row_seed(problem_seed(seed, id), i), so batching changes nothing.
    A base model's text is cut at its next few-shot question afterwards (the sampler has no stop strings)."""
    from dataclasses import replace

    from siakit.models.shared_prefill import row_seed, sample_continuations

    if config.temperature <= 0 or config.top_p < 1.0:
        raise ValueError(f"samples > 1 needs temperature > 0 and top_p = 1 (got temperature {config.temperature}, "
                         f"top_p {config.top_p})")
    tokenizer, n = lm.tokenizer, config.samples
    per_batch = max(1, config.batch_size // n)  # batch_size counts rows, as in the one-trace path
    traces: list[Trace] = []
    bar = progress_bar(total=len(problems) * n, desc=f"generate {lm.name}", unit="trace", enabled=progress)
    for lo in range(0, len(problems), per_batch):
        batch = problems[lo:lo + per_batch]
        prompts = [build_prompt(p, tokenizer, chat=lm.chat) for p in batch]
        contexts = encode(tokenizer, prompts)["input_ids"]
        seeds = [problem_seed(config.seed, p.id) for p in batch]
        started = time.perf_counter()
        rows = sample_continuations(lm, contexts, [n] * len(batch), seeds, config.max_new_tokens, config.temperature,
                                    batch_rows=per_batch * n, bar=bar)
        seconds = time.perf_counter() - started
        batch_traces = []
        for problem, prompt, seed, samples in zip(batch, prompts, seeds, rows):
            for i, row in enumerate(samples):
                raw = tokenizer.decode(row.tokens, skip_special_tokens=True)
                truncated = not row.ended and (lm.chat or cut_at_stop(raw) == raw)
                trace = trace_from_text(problem, prompt, raw, model=lm.name, chat=lm.chat, cue=config.cue,
                                        truncated=truncated,
                                        meta={"n_new_tokens": len(row.tokens), "max_new_tokens": config.max_new_tokens,
                                              "truncated": truncated,
                                              "batch_seconds": round(seconds, 3), "temperature": config.temperature,
                                              "seed": row_seed(seed, i), "problem_id": problem.id, "sample": i})
                batch_traces.append(replace(trace, id=f"{problem.id}#{i}"))
        traces += batch_traces
        if on_batch:
            on_batch(batch_traces)
    bar.close()
    return traces


def register(subparsers) -> None:
    parser = subparsers.add_parser("generate", help="generate chain-of-thought traces for a dataset",
                                   description="Generate one reasoning trace per problem into a traces JSONL file.")
    parser.add_argument("--model", required=True, help="embedded name, .gguf file, local dir or HF id")
    parser.add_argument("--dataset", required=True, help="gsm8k, svamp, arc-easy, arc-challenge, jsonl:PATH, a "
                        ".csv/.tsv/.parquet/.arrow/.jsonl file, a save_to_disk folder or hf:NAME[:CONFIG]:SPLIT")
    from siakit.data.tables import FLAG_HELP
    for name, text in FLAG_HELP.items():  # --question-field ... --id-field
        parser.add_argument("--" + name.replace("_", "-"), dest=name, default=None, help=text)
    parser.add_argument("--split", default="test", help="dataset split (gsm8k: train or test)")
    parser.add_argument("--n", type=_n, default=None, help="number of problems, or all (default: all)")
    parser.add_argument("--out", required=True, help="output traces JSONL file")
    parser.add_argument("--max-new-tokens", type=int, default=GenerateConfig.max_new_tokens)
    parser.add_argument("--temperature", type=float, default=GenerateConfig.temperature)
    parser.add_argument("--seed", type=int, default=GenerateConfig.seed)
    parser.add_argument("--batch-size", type=int, default=GenerateConfig.batch_size)
    parser.add_argument("--samples", type=int, default=GenerateConfig.samples,
                        help="traces per problem (> 1: sampled, the prompt encoded once for all of them)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, help="float32 (default), bfloat16 or float16")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.set_defaults(func=_main)


def _n(text: str):
    from siakit.experiment.config import parse_n

    return parse_n(text)


def _main(args: argparse.Namespace) -> int:
    from siakit.data.answers import grade_summary
    from siakit.models.loading import load_model

    from siakit.data.problems import JSONL_PREFIX
    from siakit.experiment.config import RunConfig, check_device_dtype
    from siakit.files import check_output, refuse_existing
    from siakit.models.loading import check_model_spec

    from siakit.data.tables import fields_of, is_table

    source = args.dataset[len(JSONL_PREFIX):] if args.dataset.startswith(JSONL_PREFIX) else (
        args.dataset if is_table(args.dataset) and not args.dataset.startswith("hf:") else None)
    check_output(args.out, inputs=[source])
    refuse_existing(args.out, args.force, "generate")
    RunConfig(model=args.model, dataset=args.dataset, split=args.split, n=1 if args.n is None else args.n,
              max_new_tokens=args.max_new_tokens, temperature=args.temperature, seed=args.seed,
              batch_size=args.batch_size, device=args.device, dtype=args.dtype).validate()
    check_model_spec(args.model)
    check_device_dtype(args.device, args.dtype)
    problems = load_problems(args.dataset, split=args.split, fields=fields_of(args))
    if args.n is not None and args.n != "all":
        if args.n > len(problems):
            raise ValueError(f"--n {args.n} is more than the {len(problems)} problems of {args.dataset} "
                             f"({args.split}); give --n {len(problems)} or less, or --n all")
        problems = problems[:args.n]
    lm = load_model(args.model, device=args.device, dtype=args.dtype)
    if args.samples < 1:
        raise ValueError(f"--samples must be >= 1, got {args.samples}")
    config = GenerateConfig(max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                            seed=args.seed, batch_size=args.batch_size, samples=args.samples)
    traces = generate_traces(lm, problems, config)
    write_traces(args.out, traces)
    multiple_choice = bool(problems and problems[0].choices)
    summary = grade_summary([t.answer for t in traces], [t.gold for t in traces], multiple_choice)
    print(f"wrote {len(traces)} traces to {args.out}: {summary}")
    return 0
