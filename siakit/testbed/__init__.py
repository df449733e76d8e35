"""A procedural reasoning testbed with exact verifiers, and a training lineage of a real LM on it.

    load_problems("rg:chain_sum", "test", n=160)   # reasoning-gym chains across a difficulty ladder
    run_lineage(LineageConfig())                    # fine-tune SmolLM2-135M, evaluate its checkpoints

Modules: `tasks` (reasoning-gym problems, seed split, ladder), `solutions` (our templated human-style
step-by-step solutions, with seeded slips), `prompt` (the short chat prompt), `generate` (traces of a
checkpoint), `train` (full fine-tune with kept checkpoints), `metrics` (per-checkpoint statistics),
`lineage` (the cached pipeline), `rl` (REINFORCE with a KL penalty), `plots`.
"""
