"""The combined verdict's evidence steps: the watermark test and a detector, as pipeline steps.

``guard filter`` chains three checks in order of certainty and cost, each on what the previous
kept: the registry (:class:`~modelcollapse.guard.registry_filter.RegistryFilter`, retrieval of
your own generations), :class:`WatermarkStep` (a keyed statistical test with a known
false-positive rate, Kirchenbauer et al. 2023) and :class:`DetectorStep` (a learned or
zero-shot score with a calibrated threshold). A document is dropped by the first check that
fires, and that check is its recorded reason (``registry_exact``, ``registry_near``,
``watermark`` or ``detector``). The watermark and detector steps write what they measured into
``metadata["guard"]`` (see :func:`annotate`), so a kept document carries the evidence of every
check it passed and a dropped one the evidence that dropped it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from modelcollapse.data.document import Document
from modelcollapse.data.json_values import jsonable
from modelcollapse.guard.pipeline import BatchStep, Exclude, Step

if TYPE_CHECKING:  # the detector imports scipy; the CLI imports this module at start-up
    from modelcollapse.guard.watermark import WatermarkConfig
    from modelcollapse.guard.watermark_detect import Detection

__all__ = ["DetectorStep", "Scorer", "WatermarkStep", "annotate", "watermark_hit"]

Scorer = Callable[[list[str]], np.ndarray]
"""Maps texts to scores, higher meaning more likely machine-generated."""


def annotate(doc: Document, key: str, value: dict[str, Any]) -> Document:
    """A copy of ``doc`` with ``metadata["guard"][key] = value`` (other metadata untouched)."""
    guard = doc.metadata.get("guard")
    guard = dict(guard) if isinstance(guard, dict) else {}
    guard[key] = jsonable(value)
    return Document(id=doc.id, text=doc.text, metadata={**doc.metadata, "guard": guard})


def watermark_hit(d: Detection, z_threshold: float) -> bool:
    """Whether a detection is a watermark at ``z_threshold``: ``z > z_threshold`` for a whole
    text; for windowed detection, the Bonferroni-corrected p-value below the normal tail at
    ``z_threshold`` (so both read at the same false-positive rate)."""
    from modelcollapse.guard.watermark_detect import normal_tail

    if math.isnan(d.z):
        return False
    if d.n_windows <= 1:
        return bool(d.z > z_threshold)
    return bool(d.log10_p_value_corrected < normal_tail(z_threshold)[1])


class WatermarkStep(Step):
    """Drop watermarked documents (reason ``watermark``); annotate every document's test.

    The annotation holds the detection (z, p-value, tokens scored...), the threshold, whether
    it fired, and the key's SHA-256 fingerprint, never the key.
    """

    def __init__(
        self,
        cfg: WatermarkConfig,
        tokenizer: Any,
        *,
        z_threshold: float = 4.0,
        window: int | None = None,
        name: str | None = "watermark",
    ):
        super().__init__(name=name)
        self.cfg, self.tokenizer = cfg, tokenizer
        self.z_threshold, self.window = z_threshold, window

    def run(self, docs: Iterator[Document], exclude: Exclude) -> Iterator[Document]:
        from modelcollapse.guard.watermark_detect import detect_text

        for doc in docs:
            d = detect_text(doc.text, self.tokenizer, self.cfg, window=self.window)
            hit = watermark_hit(d, self.z_threshold)
            info = {**d.as_dict(), "z_threshold": self.z_threshold, "flagged": hit}
            doc = annotate(doc, "watermark", {**info, "key_sha256": self.cfg.fingerprint})
            if hit:
                exclude(doc, "watermark")
            else:
                yield doc


class DetectorStep(BatchStep):
    """Drop documents scoring above ``threshold`` (reason ``detector``), scored in batches.

    ``desc`` (the detector's description: method, model...) is copied into every annotation
    with the score, the threshold and whether it fired.
    """

    def __init__(
        self,
        scorer: Scorer,
        desc: dict[str, Any],
        *,
        threshold: float,
        batch_size: int = 64,
        name: str | None = "detector",
    ):
        super().__init__(batch_size=batch_size, name=name)
        self.scorer, self.desc, self.threshold = scorer, desc, threshold

    def run_batch(self, batch: list[Document], exclude: Exclude) -> Iterator[Document]:
        scores = np.asarray(self.scorer([d.text for d in batch]), dtype=float).tolist()
        for doc, s in zip(batch, scores, strict=True):
            hit = bool(s > self.threshold)
            info = {**self.desc, "score": s, "threshold": self.threshold, "flagged": hit}
            doc = annotate(doc, "detector", info)
            if hit:
                exclude(doc, "detector")
            else:
                yield doc
