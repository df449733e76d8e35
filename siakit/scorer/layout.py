"""Token layout of a scored trace: prefix boundaries and probe sequences.

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
   `o` as a branch `cue + o` (terminated options, the default) or `cue + o[:-1]` (unterminated: the
   last option token is predicted, never fed).
4. The first token of every option is read at the "anchor" (the last cue token, or the last context
   token when the cue is empty); option token t >= 2 is read at branch token t - 1.
5. Terminated options (`cont` set): one more read at the branch token o[-1], the log-probability
   that the answer ends there, log(1 - sum_{t in CONT} p(t | ctx, cue, o)); see
   `siakit.scorer.termination`. An option's log-probability is the sum of its token reads and that
   end read.

Packing several layouts into one forward pass: `siakit.scorer.packing`; their attention masks:
`siakit.scorer.masks`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from siakit.scorer.termination import continuation_ids


@dataclass
class TraceLayout:
    id: str                     # trace id (named in every error)
    ids: list[int]              # context_K: leading specials + every text token  [N]
    bounds: list[int]           # bounds[k] = len(context_k), k = 0..K (non-decreasing, bounds[K] = N)
    cue: list[int]              # cue token ids (may be empty)
    options: list[list[int]]    # token ids of each option (empty list: no options, vocab only)
    cont: tuple | None = field(default=None, repr=False)  # CONT token ids (terminated options);
                                # None = options read without their end (the old, prefix-greedy form)
    active: list[list[int]] | None = None  # per k, the option indices probed after context_k (None:
                                # all of them at every k). Prefix-only candidate sets probe S_k + gold
                                # only: an option's log-prob does not depend on the others, and probing
                                # the union of every S_k at every k cost ~3x more tokens.

    def options_at(self, k: int) -> list[int]:
        """Indices of the options probed after context_k.

            >>> TraceLayout("t", [1, 2], [1, 2], [], [[5], [6]], active=[[0], [0, 1]]).options_at(0)
            [0]
        """
        return list(range(len(self.options))) if self.active is None else list(self.active[k])

    @property
    def terminated(self) -> bool:
        return self.cont is not None

    def branch_len(self, option: list[int]) -> int:
        """Branch tokens fed for `option`: all of it when terminated, all but its last otherwise."""
        return len(option) if self.terminated else len(option) - 1

    def probe_tokens_at(self, k: int) -> int:
        """Probe tokens fed after context_k: the cue plus the branch of every probed option."""
        return len(self.cue) + sum(self.branch_len(self.options[o]) for o in self.options_at(k))

    @property
    def n_probe_tokens(self) -> int:
        """Probe tokens fed per prefix (the largest over k)."""
        return max(self.probe_tokens_at(k) for k in range(len(self.bounds)))

    @property
    def n_tokens(self) -> int:
        """Tokens of this trace in a tree/packed pass: trunk + K+1 probe blocks."""
        return len(self.ids) + sum(self.probe_tokens_at(k) for k in range(len(self.bounds)))

    @property
    def max_position(self) -> int:
        """Largest position id used (the context length the model must support, minus one)."""
        longest_branch = max((self.branch_len(o) for o in self.options), default=0)
        return max(len(self.ids) - 1, self.bounds[-1] + len(self.cue) + longest_branch - 1)


def encode_text(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]], int]:
    """Tokenize `text` with offsets and default special tokens; return (ids, offsets, n_lead) where the
    first `n_lead` ids are special tokens added in front. Trailing added specials are dropped.

    Added tokens are found by comparing with `add_special_tokens=False` (robust across tokenizers).
    A text that already starts with the BOS token (Llama-3 chat templates write it) gets no second one,
    exactly as `siakit.experiment.generate.encode` encodes prompts.
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


def layout_trace(tokenizer, trace, cue: str, options: list[str] | None, terminated: bool = True,
                 active: list[list[int]] | None = None) -> TraceLayout:
    """The `TraceLayout` of `trace` (its prompt, steps) with the given cue and option strings;
    `terminated`: options are read with their end (the default, see `siakit.scorer.termination`);
    `active`: per k, the option indices to probe (None: all)."""
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
    cont = continuation_ids(tokenizer) if terminated and option_ids else None
    if active is not None and len(active) != len(bounds):
        raise ValueError(f"trace {trace.id}: {len(active)} active option lists for {len(bounds)} prefixes")
    return TraceLayout(id=str(trace.id), ids=ids, bounds=bounds, cue=cue_ids, options=option_ids, cont=cont,
                       active=None if active is None else [sorted(set(a)) for a in active])
