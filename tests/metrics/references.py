"""Reference implementations for the text agreement tests: the ``diversity`` package and NLTK.

``diversity`` 0.3.1 imports spacy in its ``__init__`` without declaring it, so its modules are
loaded from the installed files directly. Tests that need a reference skip when it is missing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest


def diversity_module(name: str) -> ModuleType:
    """``diversity/<name>.py`` of the installed package, without running the package's
    ``__init__``; skips the test when the package (or NLTK, which it uses) is missing."""
    pytest.importorskip("nltk")
    spec = importlib.util.find_spec("diversity")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("needs pip install diversity==0.3.1")
    path = Path(next(iter(spec.submodule_search_locations))) / f"{name}.py"
    mod_spec = importlib.util.spec_from_file_location(f"_diversity_{name}", path)
    assert mod_spec is not None and mod_spec.loader is not None
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def nltk_self_bleu_scores(
    tokenized: list[list[str]], max_n: int = 4, epsilon: float = 0.1
) -> np.ndarray:
    """Each document's NLTK ``sentence_bleu`` against all the others (method 1 smoothing)."""
    bleu = pytest.importorskip("nltk.translate.bleu_score")
    smooth = bleu.SmoothingFunction(epsilon=epsilon).method1
    weights = (1.0 / max_n,) * max_n
    return np.array(
        [
            bleu.sentence_bleu(
                tokenized[:i] + tokenized[i + 1 :], hyp, weights, smoothing_function=smooth
            )
            for i, hyp in enumerate(tokenized)
        ],
        dtype=np.float64,
    )
