"""A procedural reasoning testbed with exact verifiers, and a training lineage of a real LM on it.

    >>> from siakit.data import load_problems
    >>> [p.rung for p in load_problems("rg:chain_sum", "test", n=6)]   # reasoning-gym chains, easiest first
    ['t2', 't2', 't3', 't4', 't5', 't6']
    >>> from siakit.testbed.lineage import LineageConfig, run_lineage
    >>> result = run_lineage(LineageConfig())   # fine-tunes SmolLM2-135M, evaluates its checkpoints  # doctest: +SKIP

Modules: `tasks` (reasoning-gym problems, seed split, ladder), `solutions` (our templated human-style
step-by-step solutions, with seeded slips), `prompt` (the short chat prompt), `generate` (traces of a
checkpoint), `train` (full fine-tune with kept checkpoints), `metrics` (per-checkpoint statistics),
`lineage` (the cached pipeline), `rl` (REINFORCE with a KL penalty), `plots`.
"""
