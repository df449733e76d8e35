"""Models: loading (embedded offline GGUF models, local folders, hub ids), the tiny test models, and
the one `ModelAdapter` that knows a model's family, mask form, call convention, float32 head and
context length. Only `siakit.models.adapter` asks what kind of model it holds.

    >>> from siakit.models.tiny import tiny_model
    >>> lm = tiny_model("llama")                      # random weights; load_model("smollm2-135m-instruct")
    >>> lm.adapter.mask_form                          # the form of attention mask the model takes
    'bool'
"""
from siakit.models.adapter import ModelAdapter, adapt  # noqa: F401
from siakit.models.loading import EMBEDDED, LoadedModel, load_model  # noqa: F401
