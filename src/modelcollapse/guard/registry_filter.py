"""Pipeline step: drop documents found in the registry of generated outputs.

:class:`RegistryFilter` looks documents up in a :class:`~modelcollapse.guard.registry.Registry`
in batches (one database round trip per ``batch_size`` documents rather than per document) and
drops each one with an exact or near-duplicate match, with reason ``"registry_exact"`` or
``"registry_near"``. Kept documents keep their input order. This is the retrieval defence of
Krishna et al. (2023) as a filter: text your own models generated is recognised even after
case, punctuation or light edits.
"""

from __future__ import annotations

from collections.abc import Iterator

from modelcollapse.data.document import Document
from modelcollapse.guard.pipeline import BatchStep, Exclude, ExclusionSink
from modelcollapse.guard.registry import Registry

__all__ = ["RegistryFilter"]


class RegistryFilter(BatchStep):
    """Drop documents the registry knows (exact matches always; near duplicates if ``near``)."""

    def __init__(
        self,
        registry: Registry,
        *,
        near: bool = True,
        threshold: float | None = None,
        batch_size: int = 1000,
        name: str | None = "registry",
        exclusions: ExclusionSink | None = None,
    ):
        super().__init__(batch_size=batch_size, name=name, exclusions=exclusions)
        self.registry = registry
        self.near = near
        self.threshold = threshold

    def run_batch(self, batch: list[Document], exclude: Exclude) -> Iterator[Document]:
        kinds: dict[int, str] = {}
        for m in self.registry.lookup(batch, threshold=self.threshold, near=self.near):
            if kinds.get(m.index) != "exact":  # an exact match outranks near ones
                kinds[m.index] = m.kind
        for i, doc in enumerate(batch):
            if i in kinds:
                exclude(doc, f"registry_{kinds[i]}")
            else:
                yield doc
