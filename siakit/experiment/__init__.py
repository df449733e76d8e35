"""One experiment = one (model, dataset) run: its `RunConfig`, generation of traces, the results
store (resumable shards, one atomic-write helper) and the pipeline that ties them together.

    >>> from siakit.experiment.config import RunConfig
    >>> from siakit.experiment.pipeline import run_experiment
    >>> config = RunConfig(model="smollm2-135m-instruct", dataset="gsm8k", n=4)
    >>> config.n, config.dataset
    (4, 'gsm8k')
    >>> result = run_experiment(config)              # generates and scores with a real model  # doctest: +SKIP

`result` holds the traces, the scores (one row per (trace id, k)), the store, the manifest and the config.
"""
