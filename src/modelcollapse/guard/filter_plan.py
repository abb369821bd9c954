"""What ``guard filter`` checks, as picklable data that a worker turns into pipeline steps.

A :class:`FilterPlan` describes the three checks of ``guard filter`` (see
:mod:`modelcollapse.guard.verdict`) without holding anything a worker could not rebuild on its
own: a registry URL instead of an open connection, the *name* of the watermark key (a file path
or an environment variable) instead of the key, a classifier directory or model name instead of
a loaded model. :meth:`FilterPlan.open_steps` builds the steps in the process that runs them:
each worker opens its own registry connection (closed when the block ends) and reads the key
itself, so the key never travels in task arguments, in pickles or in Ray's object store.

The detector's threshold is a number here: calibration (choosing the threshold at a target
false-positive rate on held-out human text) happens once, on the driver, before the tasks.

The steps built from a plan are those the single-file ``guard filter`` builds from its options
(same names, same annotations, same reasons), so a sharded run writes the same documents.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelcollapse.errors import InvalidParameterError, require_extra
from modelcollapse.guard.pipeline import Step

__all__ = [
    "DETECTOR_METHODS",
    "DetectorSpec",
    "FilterPlan",
    "RegistrySpec",
    "WatermarkSpec",
    "load_watermark_tokenizer",
]

SEEDINGS = ("mix64", "hmac-sha256")
DETECTOR_METHODS = ("loglik", "logrank", "fast-detectgpt", "binoculars", "classifier")
DETECTOR_BATCH = 64  # documents per DetectorStep batch, as the single-file guard filter


def _positive_int(value: Any, name: str, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterError(f"{name}: expected an integer >= 1, got {value!r}")


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InvalidParameterError(f"{name}: expected a number, got {value!r}")
    return float(value)


def load_watermark_tokenizer(spec: str) -> Any:
    """The watermark tokenizer named ``spec``: ``words``, ``lower:words``, ``bytes`` (returned
    as the name) or ``hf:MODEL`` (a local model directory, a ``tokenizer.json`` or a packaged
    model name such as ``hf:smollm2-135m``; loaded). Same rules as ``guard watermark detect``."""
    if not isinstance(spec, str) or not spec:
        raise InvalidParameterError(f"tokenizer: expected a tokenizer name, got {spec!r}")
    if spec.startswith("hf:"):
        from modelcollapse.generators import hf_loading

        name = spec[3:]
        path = Path(name).expanduser()
        if path.suffix == ".json" and path.is_file():
            return require_extra("tokenizers", "hf").Tokenizer.from_file(str(path))
        src = hf_loading.resolve_source(name)
        return hf_loading.load_config_and_tokenizer(src, cache=True)[1]
    from modelcollapse.guard.watermark_detect import as_encoder

    as_encoder(spec)  # validates the name
    return spec


@dataclass(frozen=True)
class RegistrySpec:
    """Drop documents the registry at ``url`` holds (exact always; near duplicates if ``near``,
    at Jaccard ``threshold``, default: the registry's own). Every worker opens ``url`` itself,
    so it must name a database every worker reaches (a SQLite file on a shared filesystem, or a
    PostgreSQL server). A password written in the URL travels with the tasks: prefer the
    server's own credential files (``~/.pgpass``) on a cluster."""

    url: str
    near: bool = True
    threshold: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or not self.url:
            raise InvalidParameterError(f"registry url: expected a database URL, got {self.url!r}")
        if not isinstance(self.near, bool):
            raise InvalidParameterError(f"near: expected True or False, got {self.near!r}")
        if self.threshold is not None and not 0.0 <= _real(self.threshold, "threshold") <= 1.0:
            raise InvalidParameterError(
                f"registry threshold: expected a number in [0, 1], got {self.threshold!r}"
            )


@dataclass(frozen=True)
class WatermarkSpec:
    """Drop watermarked documents: the key's *location* and the test's parameters.

    Exactly one of ``key_file`` (a path readable by every worker) or ``key_env`` (the name of an
    environment variable set for every worker: on a Ray cluster, in the environment ``ray
    start`` runs in) locates the key; the worker reads it (:func:`~modelcollapse.guard.
    watermark.load_key`). The key bytes are never a field here, so pickling a plan (what a
    process pool or Ray does with task arguments) cannot leak them. ``tokenizer``, ``gamma``,
    ``context_width`` and ``seeding`` must match the generator's; ``window`` and ``z_threshold``
    are those of :class:`~modelcollapse.guard.verdict.WatermarkStep`.
    """

    key_file: str | Path | None = None
    key_env: str | None = None
    tokenizer: str = "words"
    gamma: float = 0.25
    context_width: int = 1
    seeding: str = "mix64"
    window: int | None = None
    z_threshold: float = 4.0

    def __post_init__(self) -> None:
        if (self.key_file is None) == (self.key_env is None):
            raise InvalidParameterError(
                "watermark key: expected exactly one of key_file or key_env, got "
                f"{'both' if self.key_file is not None else 'neither'}"
            )
        if self.key_file is not None and not isinstance(self.key_file, (str, Path)):
            raise InvalidParameterError(f"key_file: expected a path, got {self.key_file!r}")
        if self.key_env is not None and (not isinstance(self.key_env, str) or not self.key_env):
            raise InvalidParameterError(f"key_env: expected a variable name, got {self.key_env!r}")
        if not isinstance(self.tokenizer, str) or not self.tokenizer:
            raise InvalidParameterError(f"tokenizer: expected a name, got {self.tokenizer!r}")
        gamma = _real(self.gamma, "gamma")
        if not 0.0 < gamma < 1.0:
            raise InvalidParameterError(f"gamma: expected a number in (0, 1), got {self.gamma!r}")
        _positive_int(self.context_width, "context_width")
        if self.seeding not in SEEDINGS:
            raise InvalidParameterError(
                f"seeding: expected one of {', '.join(map(repr, SEEDINGS))}, got {self.seeding!r}"
            )
        _positive_int(self.window, "window", allow_none=True)
        _real(self.z_threshold, "z_threshold")

    def config(self) -> Any:
        """The :class:`~modelcollapse.guard.watermark.WatermarkConfig`, key read from its file or
        variable now (call it in the process that tests documents)."""
        from modelcollapse.guard.watermark import WatermarkConfig, load_key

        key = load_key(key_file=self.key_file, key_env=self.key_env)
        return WatermarkConfig(
            key, gamma=self.gamma, context_width=self.context_width, seeding=self.seeding
        )


@dataclass(frozen=True)
class DetectorSpec:
    """Drop documents whose detector score is above ``threshold`` (already resolved: a given
    threshold, or one calibrated on the driver). ``method`` is ``classifier`` (the saved n-gram
    classifier in directory ``classifier``) or a zero-shot method with the local causal LM
    ``model`` (``performer`` for binoculars); ``max_length``, ``batch_size`` and ``device`` are
    the zero-shot detector's (:class:`~modelcollapse.guard.zero_shot.ZeroShotDetector`)."""

    method: str
    threshold: float
    model: str = "smollm2-135m"
    performer: str | None = None
    classifier: str | Path | None = None
    max_length: int = 256
    batch_size: int = 4
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.method not in DETECTOR_METHODS:
            raise InvalidParameterError(
                f"detector method: expected one of {', '.join(DETECTOR_METHODS)}, "
                f"got {self.method!r}"
            )
        _real(self.threshold, "detector threshold")
        if self.method == "classifier" and self.classifier is None:
            raise InvalidParameterError(
                "classifier: expected a saved classifier directory for method 'classifier' "
                "(make one with modelcollapse guard train-classifier), got none"
            )
        if self.method != "classifier" and self.classifier is not None:
            raise InvalidParameterError(
                f"classifier: expected only with method 'classifier', got method {self.method!r}"
            )
        _positive_int(self.max_length, "max_length")
        _positive_int(self.batch_size, "batch_size")

    def scorer(self) -> tuple[Any, dict[str, Any]]:
        """The scoring function and its description (loads the classifier or the model)."""
        if self.method == "classifier":
            from modelcollapse.guard.classifier import NGramClassifier

            clf = NGramClassifier.load(self.classifier)  # type: ignore[arg-type]
            return clf.score, {"method": "classifier", "classifier": str(self.classifier)}
        from modelcollapse.guard.zero_shot import ZeroShotDetector

        det = ZeroShotDetector(
            self.model, method=self.method, performer=self.performer,
            max_length=self.max_length, batch_size=self.batch_size, device=self.device,
        )  # fmt: skip
        return det.score, {"method": self.method, "model": self.model, "performer": self.performer}


@dataclass(frozen=True)
class FilterPlan:
    """The checks of one ``guard filter`` job, run in this order on what the previous kept:
    registry, watermark, detector. At least one is required."""

    registry: RegistrySpec | None = None
    watermark: WatermarkSpec | None = None
    detector: DetectorSpec | None = None

    def __post_init__(self) -> None:
        for name, kind in (
            ("registry", RegistrySpec), ("watermark", WatermarkSpec), ("detector", DetectorSpec),
        ):  # fmt: skip
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise InvalidParameterError(
                    f"{name}: expected a {kind.__name__} or None, got {type(value).__name__}"
                )
        if self.registry is None and self.watermark is None and self.detector is None:
            raise InvalidParameterError(
                "expected at least one check (registry, watermark or detector), got none"
            )

    @contextlib.contextmanager
    def open_steps(self) -> Iterator[list[Step]]:
        """Build the steps in this process (registry connection opened, key read, detector
        loaded); the registry connection is closed when the block ends."""
        from modelcollapse.guard.verdict import DetectorStep, WatermarkStep

        steps: list[Step] = []
        with contextlib.ExitStack() as stack:
            if self.registry is not None:
                from modelcollapse.guard.registry import Registry
                from modelcollapse.guard.registry_filter import RegistryFilter

                reg = stack.enter_context(Registry(self.registry.url))
                steps.append(
                    RegistryFilter(reg, near=self.registry.near, threshold=self.registry.threshold)
                )
            if self.watermark is not None:
                wm = self.watermark
                tok = load_watermark_tokenizer(wm.tokenizer)
                step = WatermarkStep(wm.config(), tok, z_threshold=wm.z_threshold, window=wm.window)
                steps.append(step)
            if self.detector is not None:
                scorer, desc = self.detector.scorer()
                threshold = self.detector.threshold
                batch = max(self.detector.batch_size, DETECTOR_BATCH)
                steps.append(DetectorStep(scorer, desc, threshold=threshold, batch_size=batch))
            yield steps
