"""Guard: keep synthetic data under control when building training sets.

Pipeline steps over :class:`~modelcollapse.data.document.Document` (``guard.pipeline``), a
registry of generated outputs (``guard.registry`` with ``guard.minhash`` and ``guard.normalize``),
watermarking, detectors, synthetic-fraction estimation and the training-mix builder. Import the
submodules directly; nothing is imported here, so ``import modelcollapse.guard`` stays cheap and
needs no optional dependency.
"""
