"""Tiny random-weight causal LMs and an offline byte-level BPE tokenizer, for tests and benchmarks.

Nothing here downloads anything: the tokenizer is trained in a few milliseconds with the `tokenizers`
library on a fixed corpus (so it is identical on every machine), and the models are built from
configs with seeded random weights. They exercise the same transformers code paths as the real
families (rotary or learned positions, grouped-query attention, Gemma's sliding windows and
soft-capping), so the scorer's agreement tests cover every supported architecture.

    >>> lm = tiny_model("llama")
    >>> lm.name, lm.tokenizer("The answer is 42")["input_ids"][:1]
    ('tiny-llama', [0])
"""
from __future__ import annotations

from functools import lru_cache

# A fixed corpus: reasoning-flavoured text, digits and answer cues, so real-looking traces tokenize
# into a mix of single- and multi-token words. Changing it changes every tiny tokenizer.
CORPUS = [
    "Question: Tom has 3 apples and buys 5 more. How many apples does he have?",
    "Step 1: Tom starts with 3 apples.\nStep 2: He buys 5 more, so 3 + 5 = 8.\nThe answer is 8.",
    "Which of these is a mammal? (A) shark (B) whale (C) trout (D) eel. The answer is B.",
    "First, we compute the total cost. Then we subtract the discount. Finally we divide by 4.",
    "0 1 2 3 4 5 6 7 8 9 10 12 15 20 24 30 42 48 64 100 128 256 1000",
    "Let's think step by step. The train travels 60 miles per hour for 2 hours, so 120 miles.",
    " A B C D E answer Answer is are was were the a of to and in that it with as for on",
]
SPECIALS = ["<|bos|>", "<|eos|>", "<|pad|>"]  # ids 0, 1, 2
VOCAB_SIZE = 384  # small enough for fast tests, large enough that words merge into tokens

FAMILIES = ("llama", "qwen2", "gemma2", "gemma3", "olmo", "gpt2")


@lru_cache(maxsize=4)
def _tokenizer_json(bos: bool) -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer=trainer)
    byte_level = processors.ByteLevel(trim_offsets=False)  # offsets keep leading spaces (GPT-2, Llama-3)
    if bos:  # Llama/Gemma style: one BOS in front of every encoded text
        tok.post_processor = processors.Sequence([
            byte_level, processors.TemplateProcessing(single="<|bos|> $A", special_tokens=[("<|bos|>", 0)])])
    else:  # GPT-2/SmolLM2 style: no special tokens added
        tok.post_processor = byte_level
    return tok.to_str()


def tiny_tokenizer(bos: bool = True):
    """A fast (offset-capable) byte-level BPE tokenizer; `bos=True` prepends `<|bos|>` (id 0).

    tiny_tokenizer().convert_ids_to_tokens([0, 1, 2]) -> ['<|bos|>', '<|eos|>', '<|pad|>']
    """
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(_tokenizer_json(bos)),
                                   bos_token="<|bos|>", eos_token="<|eos|>", pad_token="<|pad|>")


def tiny_config(family: str, vocab_size: int = VOCAB_SIZE, hidden: int = 64, layers: int = 2,
                heads: int = 4, kv_heads: int = 2, sliding_window: int = 16, max_positions: int = 2048,
                intermediate: int | None = None):
    """A transformers config of `family` with the given sizes (sliding window small on purpose, so
    that short test traces cross it and the Gemma sliding-window masks are exercised)."""
    import transformers as tf

    head_dim = hidden // heads
    inter = intermediate or 2 * hidden
    common = dict(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=inter,
                  num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
                  max_position_embeddings=max_positions, bos_token_id=0, eos_token_id=1, pad_token_id=2)
    alternating = ["sliding_attention", "full_attention"] * layers
    if family == "llama":
        return tf.LlamaConfig(**common, head_dim=head_dim, tie_word_embeddings=False)
    if family == "qwen2":  # Qwen2.5 style: biases on q/k/v, tied embeddings, sliding window unused
        return tf.Qwen2Config(**common, tie_word_embeddings=True)
    if family == "gemma2":  # soft-capped attention and logits, alternating sliding/full layers
        return tf.Gemma2Config(**common, head_dim=head_dim, sliding_window=sliding_window,
                               layer_types=alternating[:layers])
    if family == "gemma3":  # local/global rotary bases, q/k norms, alternating sliding/full layers
        return tf.Gemma3TextConfig(**common, head_dim=head_dim, sliding_window=sliding_window,
                                   layer_types=alternating[:layers])
    if family == "olmo":
        return tf.OlmoConfig(**common)
    if family == "gpt2":  # learned absolute positions, no GQA
        return tf.GPT2Config(vocab_size=vocab_size, n_embd=hidden, n_layer=layers, n_head=heads,
                             n_positions=max_positions, bos_token_id=0, eos_token_id=1, pad_token_id=2)
    raise ValueError(f"unknown tiny model family '{family}'; use one of {FAMILIES}")


def model_from_config(config, seed: int = 0, dtype=None, device: str = "cpu",
                      attn_implementation: str | None = None, init_std: float | None = None):
    """Random-weight causal LM built from `config` (seeded; `init_std` overrides the init scale: a
    larger one gives peakier, more informative next-token distributions)."""
    import torch
    from transformers import AutoModelForCausalLM

    if init_std is not None:
        config.initializer_range = init_std
    torch.manual_seed(seed)
    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    model = AutoModelForCausalLM.from_config(config, dtype=dtype or torch.float32, **kwargs)
    return model.to(device).eval()


def tiny_model(family: str = "llama", seed: int = 0, bos: bool | None = None, dtype=None,
               device: str = "cpu", attn_implementation: str | None = None, init_std: float = 0.2,
               **config_kwargs):
    """A `LoadedModel` holding a tiny random `family` model and the tiny tokenizer (GPT-2 gets no BOS
    unless asked, like the real one). `init_std=0.2` makes next-token distributions far from uniform."""
    from siakit.models.loading import LoadedModel

    bos = family != "gpt2" if bos is None else bos
    config = tiny_config(family, **config_kwargs)
    model = model_from_config(config, seed=seed, dtype=dtype, device=device,
                              attn_implementation=attn_implementation, init_std=init_std)
    meta = {"spec": f"tiny-{family}", "dtype": str(model.dtype).replace("torch.", ""), "device": device,
            "model_type": config.model_type}
    return LoadedModel(model=model, tokenizer=tiny_tokenizer(bos=bos), name=f"tiny-{family}", meta=meta)


def protocol_model(vocab: int = 384, d: int = 32, positions: int = 512):
    """A minimal pure-torch causal LM that is not a transformers model: it speaks only the scorer's model
    protocol (input_ids, attention_mask, position_ids, logits_to_keep -> .logits [batch, pos, vocab]).
    One attention layer, seeded weights (torch.manual_seed(1)), in eval mode; the non-transformers
    paths of the scorer and the method comparison run on it.

        protocol_model()(torch.tensor([[1, 2, 3]])).logits.shape -> torch.Size([1, 3, 384])
    """
    from types import SimpleNamespace

    import torch
    import torch.nn as nn

    class ProtocolGPT(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(1)
            self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(positions, d)
            self.qkv, self.head = nn.Linear(d, 3 * d), nn.Linear(d, vocab)
            self.max_position_embeddings = positions

        def forward(self, input_ids, attention_mask=None, position_ids=None, logits_to_keep=None):
            b, n = input_ids.shape
            pos = torch.arange(n)[None].expand(b, n) if position_ids is None else position_ids
            x = self.wte(input_ids) + self.wpe(pos)
            q, k, v = self.qkv(x).chunk(3, -1)
            mask = attention_mask if attention_mask is not None else torch.ones(n, n, dtype=torch.bool).tril()
            x = x + nn.functional.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None],
                                                               attn_mask=mask)[:, 0]
            if logits_to_keep is not None:
                x = x[:, logits_to_keep]
            return SimpleNamespace(logits=3 * self.head(x))

    return ProtocolGPT().eval()
