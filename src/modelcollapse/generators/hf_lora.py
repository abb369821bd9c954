"""LoRA adapters through ``peft`` (Hu et al. 2022, "LoRA: Low-Rank Adaptation of Large Language
Models"): each targeted weight ``W`` becomes ``W + (alpha / r) B A`` with ``A`` (r, in) and ``B``
(out, r) trained and ``W`` frozen.

peft initialises ``A`` from torch's global RNG; here the adapter is built with that RNG forked
(the caller's state is restored) and then re-drawn from an explicit generator with peft's own
recipe: ``A ~ kaiming_uniform(a=sqrt(5))`` (``N(0, 1)`` for embedding adapters), ``B = 0``, so
the adapted model starts equal to the base model.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from modelcollapse.errors import DataError, InvalidParameterError, require_extra
from modelcollapse.generators.torch_utils import require_torch

if TYPE_CHECKING:  # pragma: no cover
    import torch

PREFIX = "adapter/"


def add_lora(
    model: Any,
    *,
    r: int,
    alpha: float,
    dropout: float,
    target_modules: list[str] | str | None,
    generator: torch.Generator,
) -> Any:
    """Wrap ``model`` (CPU) in a peft LoRA model whose adapter is drawn from ``generator``."""
    torch = require_torch()
    peft = require_extra("peft", "hf")
    config = peft.LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules,
        task_type="CAUSAL_LM",
    )
    try:
        with torch.random.fork_rng(devices=[]):
            wrapped = peft.get_peft_model(model, config)
    except ValueError as exc:  # e.g. target_modules needed for an architecture peft doesn't know
        raise InvalidParameterError(f"target_modules: peft could not add LoRA ({exc})") from None
    with torch.no_grad():
        for name, p in wrapped.named_parameters():
            if not p.requires_grad or not bool(p.any()):
                continue  # frozen base weights, and B (zero)
            if "embedding" in name:
                torch.nn.init.normal_(p, generator=generator)
            else:
                torch.nn.init.kaiming_uniform_(p, a=math.sqrt(5), generator=generator)
    return wrapped.eval()


def adapter_state(model: Any) -> dict[str, np.ndarray]:
    """The trainable (adapter) parameters as float32 arrays, keys ``adapter/<name>``."""
    return {
        f"{PREFIX}{name}": p.detach().to("cpu", dtype=require_torch().float32).numpy().copy()
        for name, p in model.named_parameters()
        if p.requires_grad
    }


def load_adapter(model: Any, state: dict[str, np.ndarray]) -> None:
    """Copy ``adapter/<name>`` arrays into the model's adapter; every name and shape must match."""
    torch = require_torch()
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    given = {k[len(PREFIX) :]: v for k, v in state.items() if k.startswith(PREFIX)}
    if set(given) != set(params):
        missing, extra = sorted(set(params) - set(given)), sorted(set(given) - set(params))
        raise DataError(
            f"hf state: expected the adapter of this LoRA configuration, got missing "
            f"{missing[:3]} and unexpected {extra[:3]}"
        )
    with torch.no_grad():
        for name, p in params.items():
            arr = np.asarray(given[name])
            if tuple(arr.shape) != tuple(p.shape):
                raise DataError(
                    f"hf state: expected {PREFIX}{name} of shape {tuple(p.shape)}, got {arr.shape}"
                )
            p.copy_(torch.from_numpy(np.array(arr, dtype=np.float32)))
