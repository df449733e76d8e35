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
blocks (block-diagonal across traces). Packs can also be stacked as rows of a batch (`pack_tensors`),
which avoids attending across traces at all. Per-token metadata describes the tree; `dense_mask` and
`flex_block_mask` turn it into masks.
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


def pack_layouts(layouts: list[TraceLayout], max_tokens: int, padded: bool = False) -> list[list[int]]:
    """Greedy packing in input order: indices of layouts per pack, each pack <= `max_tokens` tokens
    (`padded`: counted as rows x longest row, for batch rows); a longer trace gets a pack of its own.

    pack_layouts(<layouts of 30, 50, 40 tokens>, 90) -> [[0, 1], [2]]
    """
    packs, current, longest = [], [], 0
    for i, lay in enumerate(layouts):
        size = (len(current) + 1) * max(longest, lay.n_tokens) if padded else \
            sum(layouts[j].n_tokens for j in current) + lay.n_tokens
        if current and size > max_tokens:
            packs.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, lay.n_tokens)
    if current:
        packs.append(current)
    return packs


def pack_tensors(packs: list[Pack], device, pad_id: int = 0):
    """Stack packs as rows of a batch: metadata as long tensors [B, L] on `device`, a dict with ids,
    pos, doc, trunk_end, block, branch and `n_trunk` (int). Each row is padded after its trunks (to the
    longest trunk part) and after its probes, so the trunk parts line up (`kvtree` runs them first).
    A pad token sees only itself (no NaN rows) and no real token sees a pad.
    """
    import torch

    n_trunk = max(p.n_trunk for p in packs)
    n_probe = max(len(p.input_ids) - p.n_trunk for p in packs)
    names = ("input_ids", "position_ids", "doc", "trunk_end", "block", "branch")
    rows = {name: [] for name in names}
    for p in packs:
        gap, tail = n_trunk - p.n_trunk, n_probe - (len(p.input_ids) - p.n_trunk)
        def padded(values, pads):
            return values[: p.n_trunk] + pads[:gap] + values[p.n_trunk:] + pads[gap:]
        idx = list(range(p.n_trunk, n_trunk)) + list(range(n_trunk + n_probe - tail, n_trunk + n_probe))
        rows["input_ids"].append(padded(p.input_ids, [pad_id] * (gap + tail)))
        rows["position_ids"].append(padded(p.position_ids, [0] * (gap + tail)))
        rows["doc"].append(padded(p.doc, [-1 - i for i in idx]))       # unique: a pad's own trace
        rows["trunk_end"].append(padded(p.trunk_end, [i + 1 for i in idx]))  # trunks start at 0: unshifted
        rows["block"].append(padded(p.block, [-1] * (gap + tail)))     # pads count as trunk tokens
        rows["branch"].append(padded(p.branch, [0] * (gap + tail)))
    short = {"input_ids": "ids", "position_ids": "pos"}
    meta = {short.get(k, k): torch.tensor(v, dtype=torch.long, device=device) for k, v in rows.items()}
    meta["n_trunk"] = n_trunk
    return meta


def pack_reads(packs: list[Pack]) -> list[tuple[int, int, int, int, int, int]]:
    """Reads of stacked packs as (batch row, index in the padded row, target, doc, k, option), with
    `doc` numbered across all packs (row 0's traces first)."""
    n_trunk = max(p.n_trunk for p in packs)
    out, first = [], 0
    for b, p in enumerate(packs):
        gap = n_trunk - p.n_trunk
        for row, target, d, k, o in p.reads:
            out.append((b, row + gap if row >= p.n_trunk else row, target, first + d, k, o))
        first += len({r[2] for r in p.reads})
    return out


def allowed(meta: dict, b, q, kv, window: int | None = None):
    """The tree rule, elementwise on index tensors `b` (batch row), `q`, `kv` (broadcastable): may
    query q see key kv?

    Same trace, and either kv is a trunk token before q's trunk limit, or kv is in q's own probe
    block, not after q, and on the shared cue or q's own option branch. With `window`, also
    position(q) - position(kv) < window (sliding-window layers).
    """
    doc, block, branch = meta["doc"], meta["block"], meta["branch"]
    bq, bkv = block[b, q], block[b, kv]
    trunk = (bkv < 0) & (kv < meta["trunk_end"][b, q])
    probe = (bq >= 0) & (bkv == bq) & (kv <= q) & ((branch[b, kv] == 0) | (branch[b, kv] == branch[b, q]))
    ok = (doc[b, q] == doc[b, kv]) & (trunk | probe)
    if window is not None:
        ok = ok & (meta["pos"][b, q] - meta["pos"][b, kv] < window)
    return ok


def dense_mask(meta: dict, rows=None, window: int | None = None):
    """Boolean mask [B, 1, q, L] (True = may attend) for query rows `rows` (default: all L tokens)."""
    import torch

    n_batch, n = meta["ids"].shape
    device = meta["ids"].device
    kv = torch.arange(n, device=device)
    q = kv if rows is None else rows
    b = torch.arange(n_batch, device=device)
    return allowed(meta, b[:, None, None], q[None, :, None], kv[None, None, :], window)[:, None]


def flex_block_mask(meta: dict, window: int | None = None, rows=None):
    """The same rule as a FlexAttention `BlockMask` (memory O(L^2 / 128^2), no dense L x L tensor)."""
    from torch.nn.attention.flex_attention import create_block_mask

    n_batch, n = meta["ids"].shape
    offset = 0 if rows is None else int(rows[0])
    n_q = n if rows is None else rows.shape[0]

    def mask_mod(b, h, q_idx, kv_idx):
        return allowed(meta, b, q_idx + offset, kv_idx, window)

    return create_block_mask(mask_mod, B=n_batch, H=None, Q_LEN=n_q, KV_LEN=n, device=meta["ids"].device)
