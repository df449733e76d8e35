"""Token layout of a scored trace: prefix boundaries, probe sequences, packing, tree masks.

Exact semantics (the contract every scoring method follows, so any number can be redone by hand):

1. The full text `prompt + "".join(steps)` is tokenized ONCE with character offsets and the
   tokenizer's default `add_special_tokens=True` (False when the text already starts with the BOS
   token, as chat templates like Llama-3's write it: no double BOS, the same rule as generation).
   Special tokens the tokenizer adds in front (a BOS) belong to every context; special tokens it
   appends at the end (an EOS) are dropped.
2. `context_k` (k = 0..K) is the leading run of tokens that lie entirely inside
   `prompt + C_1 + ... + C_k`: the boundary after step k is the first token that starts at or after
   the end of step k *or straddles it* (a straddling token belongs to the later step), i.e. the first
   token whose character end exceeds the end of step k. `n_prefix_tokens = len(context_k)`.
3. The cue and each option are tokenized on their own (`add_special_tokens=False`) and appended
   after `context_k`, at positions continuing it: the probe for prefix k is `cue`, then each option
   `o` as a branch `cue + o[:-1]` (the last option token is predicted, never fed).
4. The first token of every option is read at the "anchor" (the last cue token, or the last context
   token when the cue is empty); option token t >= 2 is read at branch token t - 1.

A *pack* lays several traces out in one sequence: all trunks (the trace tokens) first, then all probe
blocks. Per-token metadata describes the tree; `dense_mask` and `flex_block_mask` turn it into masks.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TraceLayout:
    id: str                     # trace id (named in every error)
    ids: list[int]              # context_K: leading specials + every text token  [N]
    bounds: list[int]           # bounds[k] = len(context_k), k = 0..K (non-decreasing, bounds[K] = N)
    cue: list[int]              # cue token ids (may be empty)
    options: list[list[int]]    # token ids of each option (empty list: no options, vocab only)

    @property
    def n_probe_tokens(self) -> int:
        """Probe tokens fed per prefix: the cue plus every option branch but its last token."""
        return len(self.cue) + sum(len(o) - 1 for o in self.options)

    @property
    def n_tokens(self) -> int:
        """Tokens of this trace in a tree/packed pass: trunk + K+1 probe blocks."""
        return len(self.ids) + len(self.bounds) * self.n_probe_tokens

    @property
    def max_position(self) -> int:
        """Largest position id used (the context length the model must support, minus one)."""
        longest_branch = max((len(o) - 1 for o in self.options), default=0)
        return max(len(self.ids) - 1, self.bounds[-1] + len(self.cue) + longest_branch - 1)


def encode_text(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]], int]:
    """Tokenize `text` with offsets and default special tokens; return (ids, offsets, n_lead) where the
    first `n_lead` ids are special tokens added in front. Trailing added specials are dropped.

    Added tokens are found by comparing with `add_special_tokens=False` (robust across tokenizers).
    A text that already starts with the BOS token (Llama-3 chat templates write it) gets no second one,
    exactly as `siakit.generate.encode` encodes prompts.
    """
    bos = getattr(tokenizer, "bos_token", None)
    add = not (bos and text.startswith(bos))
    enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=add)
    plain = tokenizer(text, add_special_tokens=False)["input_ids"]
    ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
    for lead in range(len(ids) - len(plain) + 1):
        if ids[lead:lead + len(plain)] == plain:
            end = lead + len(plain)
            return ids[:end], offsets[:end], lead
    raise ValueError("tokenizer adds special tokens inside the text; cannot locate the text tokens")


def prefix_bounds(offsets: list[tuple[int, int]], n_lead: int, ends: list[int]) -> list[int]:
    """For each character end in `ends`, the number of tokens lying entirely before it (leading
    specials always count).

    prefix_bounds([(0, 0), (0, 3), (3, 5), (5, 9)], 1, [3, 4, 9]) -> [2, 2, 4]
    (the token (3, 5) straddles character 4, so it belongs to the later step).
    """
    bounds, i = [], n_lead
    for end in ends:
        while i < len(offsets) and offsets[i][1] <= end:
            i += 1
        bounds.append(i)
    return bounds


def layout_trace(tokenizer, trace, cue: str, options: list[str] | None) -> TraceLayout:
    """The `TraceLayout` of `trace` (its prompt, steps) with the given cue and option strings."""
    ids, offsets, n_lead = encode_text(tokenizer, trace.prompt + "".join(trace.steps))
    ends, pos = [len(trace.prompt)], len(trace.prompt)
    for step in trace.steps:
        pos += len(step)
        ends.append(pos)
    bounds = prefix_bounds(offsets, n_lead, ends)
    cue_ids = tokenizer(cue, add_special_tokens=False)["input_ids"] if cue else []
    option_ids = []
    for option in options or []:
        toks = tokenizer(option, add_special_tokens=False)["input_ids"]
        if not toks:
            raise ValueError(f"trace {trace.id}: option {option!r} tokenizes to nothing")
        option_ids.append(toks)
    if not cue_ids and bounds[0] == 0:
        raise ValueError(f"trace {trace.id}: empty prompt, no BOS token and an empty cue: nothing to "
                         "condition the answer on at k=0")
    return TraceLayout(id=str(trace.id), ids=ids, bounds=bounds, cue=cue_ids, options=option_ids)


@dataclass
class Pack:
    """Several traces in one sequence: trunks first, then probe blocks. All lists have length L."""
    input_ids: list[int] = field(default_factory=list)
    position_ids: list[int] = field(default_factory=list)
    doc: list[int] = field(default_factory=list)        # which trace of the pack
    trunk_end: list[int] = field(default_factory=list)  # trunk keys visible: global index < trunk_end
    block: list[int] = field(default_factory=list)      # probe block id (-1: trunk token)
    branch: list[int] = field(default_factory=list)     # 0: cue (shared), o + 1: option o's branch
    n_trunk: int = 0                                    # the first n_trunk tokens are trunks
    # readouts: (row, target token, doc, k, option) with option -1 for the anchor (vocab entropy)
    reads: list[tuple[int, int, int, int, int]] = field(default_factory=list)


def build_pack(layouts: list[TraceLayout]) -> Pack:
    """Lay out `layouts` as one packed tree sequence.

    For one trace with ids [a b c], bounds [1, 3], cue [q], one option [x y]: tokens are
    `a b c | q x' | q x'` (x' = x fed as branch), positions 0 1 2 | 1 2 | 3 4.
    """
    p = Pack()
    starts = []
    for d, lay in enumerate(layouts):  # trunks: plain causal within each trace
        start = len(p.input_ids)
        starts.append(start)
        for i, tok in enumerate(lay.ids):
            p.input_ids.append(tok); p.position_ids.append(i); p.doc.append(d)
            p.trunk_end.append(start + i + 1); p.block.append(-1); p.branch.append(0)
    p.n_trunk = len(p.input_ids)
    block_id = 0
    for d, lay in enumerate(layouts):
        for k, b in enumerate(lay.bounds):
            def put(tok, pos, branch):
                p.input_ids.append(tok); p.position_ids.append(pos); p.doc.append(d)
                p.trunk_end.append(starts[d] + b); p.block.append(block_id); p.branch.append(branch)
                return len(p.input_ids) - 1
            anchor = starts[d] + b - 1  # the last context token, unless there is a cue
            for j, tok in enumerate(lay.cue):
                anchor = put(tok, b + j, 0)
            p.reads.append((anchor, -1, d, k, -1))
            for o, opt in enumerate(lay.options):
                row = anchor
                p.reads.append((row, opt[0], d, k, o))
                for t in range(1, len(opt)):
                    row = put(opt[t - 1], b + len(lay.cue) + t - 1, o + 1)
                    p.reads.append((row, opt[t], d, k, o))
            block_id += 1
    return p


def pack_layouts(layouts: list[TraceLayout], max_tokens: int) -> list[list[int]]:
    """Greedy packing in input order: indices of layouts per pack, each pack <= `max_tokens` tokens
    (a single longer trace gets a pack of its own).

    pack_layouts(<layouts of 30, 50, 40 tokens>, 90) -> [[0, 1], [2]]
    """
    packs, current, size = [], [], 0
    for i, lay in enumerate(layouts):
        if current and size + lay.n_tokens > max_tokens:
            packs.append(current)
            current, size = [], 0
        current.append(i)
        size += lay.n_tokens
    if current:
        packs.append(current)
    return packs


def pack_tensors(pack: Pack, device):
    """Metadata as long tensors [L] on `device`: dict with ids, pos, doc, trunk_end, block, branch."""
    import torch

    names = {"ids": pack.input_ids, "pos": pack.position_ids, "doc": pack.doc,
             "trunk_end": pack.trunk_end, "block": pack.block, "branch": pack.branch}
    return {k: torch.tensor(v, dtype=torch.long, device=device) for k, v in names.items()}


def allowed(meta: dict, q, kv, window: int | None = None):
    """The tree rule, elementwise on index tensors `q`, `kv` (broadcastable): may query q see key kv?

    Same trace, and either kv is a trunk token before q's trunk limit, or kv is in q's own probe
    block, not after q, and on the shared cue or q's own option branch. With `window`, also
    position(q) - position(kv) < window (sliding-window layers).
    """
    doc, block, branch = meta["doc"], meta["block"], meta["branch"]
    trunk = (block[kv] < 0) & (kv < meta["trunk_end"][q])
    probe = (block[q] >= 0) & (block[kv] == block[q]) & (kv <= q) & (
        (branch[kv] == 0) | (branch[kv] == branch[q]))
    ok = (doc[q] == doc[kv]) & (trunk | probe)
    if window is not None:
        ok = ok & (meta["pos"][q] - meta["pos"][kv] < window)
    return ok


def dense_mask(meta: dict, rows=None, window: int | None = None):
    """Boolean mask [1, 1, q, L] (True = may attend) for query rows `rows` (default: all L tokens)."""
    import torch

    n = meta["ids"].shape[0]
    kv = torch.arange(n, device=meta["ids"].device)
    q = kv if rows is None else rows
    return allowed(meta, q[:, None], kv[None, :], window)[None, None]


def flex_block_mask(meta: dict, window: int | None = None, rows=None):
    """The same rule as a FlexAttention `BlockMask` (memory O(L^2 / 128^2), no dense L x L tensor)."""
    from torch.nn.attention.flex_attention import create_block_mask

    n = meta["ids"].shape[0]
    offset = 0 if rows is None else int(rows[0])
    n_q = n if rows is None else rows.shape[0]

    def mask_mod(b, h, q_idx, kv_idx):
        return allowed(meta, q_idx + offset, kv_idx, window)

    return create_block_mask(mask_mod, B=None, H=None, Q_LEN=n_q, KV_LEN=n, device=meta["ids"].device)
