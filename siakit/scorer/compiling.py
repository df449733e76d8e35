"""`torch.compile` of the model forward, for fewer kernel launches on a GPU (off by default).

The tree pass is one forward over a long sequence, so eager PyTorch launches a few kernels per layer
and op; compiling the forward fuses the elementwise work (norms, rotary, activations) and, with
`max-autotune-no-cudagraphs`, autotunes the matmuls for the bucketed shapes (`siakit.scorer.buckets`).
CUDA graphs are left out: a new graph per bucket shape and per mask would cost more memory than the
launches it saves. On CPU the default mode is used (there is nothing to autotune).

    >>> import torch
    >>> from siakit.models.tiny import tiny_model
    >>> adapter = tiny_model("gpt2").adapter
    >>> compiled(adapter, "eager") is adapter, adapter.model._siakit_compiled   # compiled in place, on first call
    (True, 'eager')
    >>> uncompile(adapter); hasattr(adapter.model, "_siakit_compiled")
    False
    >>> compile_mode(torch.device("cpu")), compile_mode(torch.device("cuda"))
    (None, 'max-autotune-no-cudagraphs')
"""
from __future__ import annotations

COMPILE_BACKENDS = ("", "inductor", "aot_eager", "eager")  # "": off; aot_eager/eager: wiring checks


def compile_mode(device) -> str | None:
    """torch.compile mode for `device`: max-autotune without CUDA graphs on CUDA, else the default.

    compile_mode(torch.device("cuda")) -> "max-autotune-no-cudagraphs"; compile_mode(torch.device("cpu")) -> None
    """
    return "max-autotune-no-cudagraphs" if device.type == "cuda" else None


def compiled(adapter, backend: str):
    """`adapter` with the module it calls compiled in place (`nn.Module.compile`, static shapes): the
    model, or its base model when the adapter applies the lm_head itself in float32. Compiling again
    with the same backend is a no-op. `backend=""` returns the adapter untouched."""
    if backend not in COMPILE_BACKENDS:
        raise ValueError(f"unknown compile backend '{backend}'; use one of {COMPILE_BACKENDS}")
    if not backend:
        return adapter
    target = adapter.model.base_model if adapter.fp32_head else adapter.model
    if getattr(target, "_siakit_compiled", None) == backend:
        return adapter
    mode = compile_mode(adapter.device) if backend == "inductor" else None
    target.compile(backend=backend, mode=mode, dynamic=False)
    target._siakit_compiled = backend
    return adapter


def uncompile(adapter) -> None:
    """Undo `compiled` (the bench times compiled and eager variants on one model)."""
    for target in (adapter.model, getattr(adapter.model, "base_model", None)):
        if target is not None and getattr(target, "_siakit_compiled", None):
            target._compiled_call_impl = None
            del target._siakit_compiled
