#!/usr/bin/env python
"""Generate reasoning traces with vLLM into siakit's traces JSONL, then score them with siakit.

UNTESTED HERE: vLLM is not installed on the machines this project is built and tested on (no GPU), and
it is not a siakit dependency; install it yourself (`pip install vllm`) on a GPU machine. Only the
vLLM call itself (`complete` below, a few lines) is untested: the prompts, their token ids, the
stop-cutting, the step splitting, the answer grading and the record writing go through
`siakit.experiment.engines`, the same code `siakit generate` uses, which tests/test_engines.py covers.

    python scripts/vllm_generate.py --model Qwen/Qwen2.5-1.5B-Instruct --dataset gsm8k --n 500 \\
        --max-new-tokens 512 --out traces.jsonl [--tensor-parallel-size 2]
    siakit score --model Qwen/Qwen2.5-1.5B-Instruct --traces traces.jsonl --out scores.parquet --device cuda
    torchrun --standalone --nproc-per-node 8 -m siakit score ...     # one scorer replica per GPU

Why two engines: vLLM generates fast but cannot apply siakit's tree attention mask (custom masks are
unsupported in its optimised kernels, and `prompt_logprobs` bypasses its prefix cache), so scoring
stays in siakit. Greedy traces from vLLM can differ from transformers' in rare near-ties (other
kernels, other float sums); the trace records which engine wrote it (`engine` in each record).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="Hugging Face id or local folder vLLM can load")
    p.add_argument("--dataset", required=True, help="gsm8k | svamp | arc-easy | arc-challenge | jsonl:PATH")
    p.add_argument("--split", default="test")
    p.add_argument("--n", type=int, default=None, help="the first n problems (default: all)")
    p.add_argument("--out", required=True, help="traces JSONL to write")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chat", choices=("auto", "yes", "no"), default="auto",
                   help="chat-template prompts (auto: when the tokenizer has a chat template)")
    p.add_argument("--tensor-parallel-size", type=int, default=1, help="GPUs per model replica")
    p.add_argument("--dtype", default="auto")
    return p.parse_args(argv)


def complete(args, token_ids: list[list[int]], chat: bool) -> tuple[list[str], list[int]]:
    """The vLLM call: prompt token ids -> (completion texts, new-token counts). Untested here."""
    from vllm import LLM, SamplingParams

    from siakit.data.prompts import STOP_STRINGS

    llm = LLM(model=args.model, tensor_parallel_size=args.tensor_parallel_size, dtype=args.dtype, seed=args.seed)
    params = SamplingParams(temperature=args.temperature, max_tokens=args.max_new_tokens, seed=args.seed,
                            stop=None if chat else STOP_STRINGS, skip_special_tokens=True)
    outputs = llm.generate([{"prompt_token_ids": ids} for ids in token_ids], params)
    return [o.outputs[0].text for o in outputs], [len(o.outputs[0].token_ids) for o in outputs]


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import vllm  # noqa: F401 - fail before any work, with a plain message
    except ImportError:
        print("vllm_generate.py: vLLM is not installed (pip install vllm, on a GPU machine); "
              "siakit does not depend on it", file=sys.stderr)
        return 2
    from transformers import AutoTokenizer

    from siakit.data.problems import load_problems
    from siakit.data.traces import write_traces
    from siakit.experiment.engines import requests, to_traces

    problems = load_problems(args.dataset, split=args.split, n=args.n)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    chat = bool(getattr(tokenizer, "chat_template", None)) if args.chat == "auto" else args.chat == "yes"
    reqs = requests(problems, tokenizer, chat)
    texts, n_new = complete(args, [r.token_ids for r in reqs], chat)
    meta = [{"n_new_tokens": k, "temperature": args.temperature, "seed": args.seed, "engine": "vllm"} for k in n_new]
    name = Path(args.model).name if Path(args.model).is_dir() else args.model  # as siakit.models names it
    traces = to_traces(reqs, texts, model=name, chat=chat, meta=meta, max_new_tokens=args.max_new_tokens)
    write_traces(args.out, traces)
    print(f"wrote {len(traces)} traces to {args.out}; score them with: siakit score --model {args.model} "
          f"--traces {args.out} --out SCORES.parquet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
