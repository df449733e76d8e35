"""A toy world where the exact Bayes conditional answer entropy is known, and tiny GPTs trained on it.

world.py (the data law, exact Bayes entropies) · humans.py (human traces with exact log-probability) ·
text.py (tokenizer, Trace records) · gpt.py (tiny GPT, scorer protocol) · train.py (MLE, held-out fit) ·
rollout.py (own traces, world in the loop) · readout.py (scorer bridge, exact oracle) · evaluate.py ·
rl.py (REINFORCE with a KL penalty) · experiment.py (presets, `run_toy`) · plots.py · cli.py (`siakit toy`).
"""
