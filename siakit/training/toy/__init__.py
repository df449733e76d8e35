"""A toy world where the exact Bayes conditional answer entropy is known, and tiny GPTs trained on it.

world.py (the data law, exact Bayes entropies) · humans.py (human traces with exact log-probability) ·
text.py (tokenizer, Trace records) · gpt.py (tiny GPT, scorer protocol) · train.py (MLE, held-out fit) ·
rollout.py (own traces, world in the loop) · readout.py (scorer bridge, exact oracle) · evaluate.py ·
rl.py (REINFORCE with a KL penalty) · experiment.py (presets, `run_toy`) · plots.py · cli.py (`siakit toy`).

    >>> from siakit.training.toy.world import WorldConfig, bayes_curve
    >>> [round(float(h), 3) for h in bayes_curve(WorldConfig())]   # exact E[H(A | Q, C_1:k)], k = 0..4, nats
    [1.845, 1.672, 1.42, 1.043, 0.456]
"""
