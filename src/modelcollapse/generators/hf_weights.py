"""A causal LM's weights as plain numpy arrays, and back (the ``full`` fine-tuning checkpoint).

Each distinct tensor of ``module.state_dict()`` is stored once as ``weights/<name>`` (floating
tensors as float32, whatever the training dtype). Tied weights (e.g. ``lm_head.weight`` sharing
``model.embed_tokens.weight``) are one tensor in the module and are stored under the first name
only; loading into a freshly built module of the same config, where the tie is re-created,
fills both. Loading checks every name and shape, and never unpickles anything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelcollapse.errors import DataError
from modelcollapse.generators.torch_utils import require_torch

PREFIX = "weights/"


def distinct_tensors(model: Any) -> dict[str, Any]:
    """The module's state tensors, each shared (tied) tensor under its first name only."""
    kept, seen = {}, set()
    for name, t in model.state_dict().items():
        key = (t.data_ptr(), tuple(t.shape), t.dtype) if t.numel() else (name,)
        if key not in seen:
            seen.add(key)
            kept[name] = t
    return kept


def weights_state(model: Any) -> dict[str, np.ndarray]:
    """``weights/<name>`` -> a copy of the tensor (float32 for floating tensors), on the CPU."""
    torch = require_torch()
    kept = distinct_tensors(model)
    return {
        f"{PREFIX}{name}": t.detach()
        .to("cpu", dtype=torch.float32 if t.is_floating_point() else t.dtype)
        .numpy()
        .copy()
        for name, t in kept.items()
    }


def load_weights(model: Any, state: dict[str, np.ndarray]) -> None:
    """Copy ``weights/<name>`` arrays into ``model``; names and shapes must match exactly."""
    torch = require_torch()
    kept = distinct_tensors(model)
    given = {k[len(PREFIX) :]: v for k, v in state.items() if k.startswith(PREFIX)}
    missing, extra = sorted(set(kept) - set(given)), sorted(set(given) - set(kept))
    if missing or extra:
        raise DataError(
            f"hf state: expected the weights of this architecture, got missing {missing[:3]} "
            f"and unexpected {extra[:3]}"
        )
    with torch.no_grad():
        for name, t in kept.items():
            arr = np.asarray(given[name])
            if tuple(arr.shape) != tuple(t.shape) or arr.dtype.kind not in "fiub":
                raise DataError(
                    f"hf state: expected {PREFIX}{name} as numbers of shape {tuple(t.shape)}, "
                    f"got {arr.dtype} {arr.shape}"
                )
            t.copy_(torch.from_numpy(np.array(arr, copy=True)))
