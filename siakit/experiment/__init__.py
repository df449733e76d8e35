"""One experiment = one (model, dataset) run: its `RunConfig`, generation of traces, the results
store (resumable shards, one atomic-write helper) and the pipeline that ties them together.

    >>> from siakit.experiment import RunConfig, run_experiment
    >>> result = run_experiment(RunConfig(model="smollm2-135m-instruct", dataset="gsm8k", n=4))
    >>> result["scores"].head()
"""
