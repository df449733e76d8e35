"""Training that induces SIA: the toy world trained from scratch (`training.toy`) and supervised
fine-tuning of a real LM on human solutions (`training.sft`).

    >>> from siakit.training.toy.experiment import run_toy, PRESETS
    >>> sorted(PRESETS)
    ['paper', 'small', 'tiny']
    >>> result = run_toy(PRESETS["small"], out="/tmp/toy")   # MLE checkpoints, RL, curves: minutes  # doctest: +SKIP
"""
