"""Honest FLOP accounting for `siakit bench`: the work a scoring pass must do, nothing flattering.

Convention (per forward token, multiply-add = 2 FLOPs):
- matmuls: 2 x (non-embedding parameters) per token fed. The input embedding table is a lookup, not a
  matmul, so it is not counted; the lm_head (tied or not) is counted only on the rows it is applied to
  (the read rows: the scorer keeps only those logits);
- attention: 4 x layers x heads x head_dim per (query, key) pair the mask *allows* (QK^T and PV), i.e.
  the pairs the tree needs, not the L x L that a dense-mask kernel touches.
The same useful work is divided by every method's time (so a method that recomputes contexts, like
`naive`, gets a low rate), and the plain causal pass of the same token count gets its own, larger
pair count (n(n+1)/2 per row).

    >>> param_counts(lm.model)                        # the tiny Llama: 2 layers, hidden 64, vocab 384
    {'total': 123200, 'embedding': 24576, 'head': 24576, 'body': 74048, 'tied': False}
    >>> tree_attention_pairs(layouts[0])              # allowed (query, key) pairs of one trace's tree
    737
    >>> useful_flops(lm.model, layouts)               # FLOPs of scoring the four `layouts` once
    29941248.0
"""
from __future__ import annotations


def param_counts(model) -> dict:
    """Parameter counts: `embedding` (input table), `head` (lm_head weight, counted even when tied),
    `body` (everything else: the matmul parameters every token goes through), `total` (unique)."""
    total = sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    tied = head.data_ptr() == emb.data_ptr()
    body = total - emb.numel() - (0 if tied else head.numel())
    return {"total": total, "embedding": emb.numel(), "head": head.numel(), "body": body, "tied": tied}


def attention_dims(config) -> tuple[int, int, int]:
    """(layers, query heads, head_dim) of a transformers config."""
    cfg = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    heads = cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    return cfg.num_hidden_layers, heads, head_dim


def tree_attention_pairs(lay) -> int:
    """Allowed (query, key) pairs of one trace's tree (trunk causal, each probe block over its prefix,
    the cue, and its own branch; sliding windows ignored).

    tree_attention_pairs(<ids a b c, bounds [1, 3], cue [q], one option [x y]>) -> 6 + (2 + 3) + (4 + 5) = 20
    """
    n, c = len(lay.ids), len(lay.cue)
    pairs = n * (n + 1) // 2
    for k, b in enumerate(lay.bounds):
        pairs += sum(b + j + 1 for j in range(c))  # cue token j sees the prefix and cue[:j+1]
        for opt in (lay.options[o] for o in lay.options_at(k)):  # branch token t sees prefix, cue, branch[:t]
            pairs += sum(b + c + t for t in range(1, len(opt)))
    return pairs


def read_rows(lay) -> int:
    """Logit rows the scorer keeps for one trace: the anchor per prefix and each later option token."""
    return sum(1 + sum(len(lay.options[o]) - 1 for o in lay.options_at(k)) for k in range(len(lay.bounds)))


def useful_flops(model, layouts) -> float:
    """FLOPs of scoring `layouts` once (the module docstring's convention)."""
    counts, (layers, heads, head_dim) = param_counts(model), attention_dims(model.config)
    tokens = sum(lay.n_tokens for lay in layouts)
    pairs = sum(tree_attention_pairs(lay) for lay in layouts)
    rows = sum(read_rows(lay) for lay in layouts)
    return 2.0 * counts["body"] * tokens + 2.0 * counts["head"] * rows + 4.0 * layers * heads * head_dim * pairs


def causal_flops(model, lengths: list[int], head_rows: int = 1) -> float:
    """FLOPs of one plain causal pass over rows of `lengths` tokens, the lm_head on `head_rows` per row."""
    counts, (layers, heads, head_dim) = param_counts(model), attention_dims(model.config)
    pairs = sum(n * (n + 1) // 2 for n in lengths)
    return (2.0 * counts["body"] * sum(lengths) + 2.0 * counts["head"] * head_rows * len(lengths)
            + 4.0 * layers * heads * head_dim * pairs)
