"""What every neural generator shares: importing torch, devices, threads and explicit randomness.

Randomness stays explicit across the numpy/torch boundary: a neural generator's ``fit`` and
``sample`` take a numpy ``Generator`` like every other model, and turn it into a seeded
``torch.Generator`` with :func:`torch_generator`. Library code never calls ``torch.manual_seed``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from modelcollapse.errors import InvalidParameterError, require_extra

if TYPE_CHECKING:  # pragma: no cover
    import torch

# Set by the runner's process pool: how many torch threads one replicate may use there.
TORCH_THREADS_ENV = "MODELCOLLAPSE_TORCH_THREADS"


def require_torch() -> Any:
    """The ``torch`` module, or MissingExtraError naming the ``torch`` extra."""
    return require_extra("torch", "torch")


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def use_threads(threads: int | None) -> None:
    """Let torch use ``threads`` intra-op threads.

    ``None`` means every available core, or ``$MODELCOLLAPSE_TORCH_THREADS`` when set (the
    runner's process pool sets it to 1 so replicates running side by side do not oversubscribe).
    The general engine limits BLAS to one thread per replicate; a neural model run in-process is
    the one place where a single replicate should use every core, so it asks for them explicitly.
    """
    torch = require_torch()
    if threads is None:
        env = os.environ.get(TORCH_THREADS_ENV, "")
        n = int(env) if env.isdigit() else available_cores()
    else:
        n = int(threads)
    if n < 1:
        raise InvalidParameterError(
            f"threads: expected a positive integer or null, got {threads!r}"
        )
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def pick_device(device: str = "auto") -> torch.device:
    """``auto`` is CUDA when present, else CPU; anything else is passed to ``torch.device``."""
    torch = require_torch()
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InvalidParameterError(
            f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidParameterError(f"device {device!r} was asked for, but CUDA is not available")
    return dev


def torch_generator(
    rng: np.random.Generator, device: torch.device | str = "cpu"
) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded from (and advancing) the numpy ``rng``."""
    torch = require_torch()
    gen = torch.Generator(device=device)
    gen.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return gen


def to_numpy_state(module: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """A module's parameters and buffers as float32/int numpy arrays, keys prefixed."""
    return {
        f"{prefix}{k}": v.detach().to("cpu").contiguous().numpy().copy()
        for k, v in module.state_dict().items()
    }


def load_numpy_state(module: Any, state: dict[str, np.ndarray], prefix: str = "") -> None:
    """Load arrays written by :func:`to_numpy_state` (strict: every key must match)."""
    torch = require_torch()
    sub = {
        k[len(prefix) :]: torch.from_numpy(np.require(v, requirements="C"))
        for k, v in state.items()
        if k.startswith(prefix)
    }
    missing, unexpected = module.load_state_dict(sub, strict=False)
    if missing or unexpected:
        raise InvalidParameterError(
            f"model state does not match the architecture: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )


def text_to_array(text: str) -> np.ndarray:
    """A string (e.g. a tokenizer's JSON) as a uint8 array, so it fits in npz and safetensors."""
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()


def array_to_text(arr: np.ndarray) -> str:
    return np.asarray(arr, dtype=np.uint8).tobytes().decode("utf-8")
