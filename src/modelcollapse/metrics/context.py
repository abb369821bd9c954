"""What a registered metric sees: the model of this generation, its samples and the real data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

import numpy as np

from modelcollapse.data.tokenize import DEFAULT_TOKENIZER, Tokenizer, get_tokenizer
from modelcollapse.errors import InvalidParameterError
from modelcollapse.generators.base import DataKind, Generator

DATA_KINDS: tuple[str, ...] = get_args(DataKind)


@dataclass
class MetricContext:
    """Inputs of one generation's metrics.

    Attributes:
        data_kind: "numeric" | "discrete" | "text" | "regression".
        model: this generation's fitted model (duck-typed by the metrics).
        samples: the synthetic set drawn from it this generation.
        reference: the replicate's real training data (generation-0 data).
        heldout: held-out real data of the same kind.
        truth: the known true distribution (see data/sources.py), or None.
        rng: randomness for metrics that need it (projections, bootstraps).
        tokenizer: how text metrics split documents into tokens: a name of
            :func:`modelcollapse.data.tokenize.get_tokenizer` (``"whitespace"``, the default;
            ``"words"``; ``"regex:PATTERN"``; ``"lower:SPEC"``) or a callable ``str -> list[str]``.
            Ignored by the other data kinds.
    """

    data_kind: DataKind
    model: Generator
    samples: Any
    reference: Any
    heldout: Any
    truth: dict[str, np.ndarray] | None
    rng: np.random.Generator
    tokenizer: Tokenizer | str = DEFAULT_TOKENIZER

    def __post_init__(self) -> None:
        get_tokenizer(self.tokenizer)  # an unknown name fails here, not in the first metric
        if self.data_kind not in DATA_KINDS:
            raise InvalidParameterError(
                f"data_kind: expected one of {', '.join(DATA_KINDS)}, got {self.data_kind!r}"
            )
