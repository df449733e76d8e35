"""Supervised fine-tuning of a real LM on human reasoning traces (GSM8K train solutions), with
before/after generation and scoring on one shared candidate set.

    >>> from siakit.training.sft.finetune import SFTConfig, load_or_run
    >>> summary = load_or_run(SFTConfig(steps=10), out="/tmp/sft")   # fine-tunes SmolLM2  # doctest: +SKIP

`summary["heldout_nll"]` is the held-out NLL before and after ({"before", "after"}, nats per token).
"""
