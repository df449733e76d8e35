"""`siakit bench`: the command (`command`) and the benchmarks that need more than the scorer, so they
sit on a floor of their own above the report: prompt sharing on the human chapter's variants and on
generated traces (`sharing`), the enumerate estimator on the human chapter's traces (`enumerate`), and
a sweep's GPU-hours from a runs file (`sizing`). The scorer's own benchmarks (`siakit.scorer.bench`,
`siakit.scorer.bench_steps`) and data parallelism (`siakit.experiment.bench_distributed`) stay on the
floors they measure; only this command imports them all.

    >>> from siakit.bench.sizing import nominal_params_b
    >>> nominal_params_b("Qwen/Qwen2.5-1.5B-Instruct")
    1.5
"""
