"""Any Hugging Face causal LM as a generator: the real-model arm of the collapse experiments.

Shumailov et al. (2024, Nature, "AI models collapse when trained on recursively generated data")
fine-tune OPT-125m on its own samples generation after generation; this adapter does the same
for any local causal LM (SmolLM2-135M is packaged). Models are local paths or packaged names,
never downloaded (:mod:`modelcollapse.generators.hf_loading`).

The document model. A document ``d`` with tokens ``x_1..x_m`` is the sequence
``BOS, prompt tokens, x_1..x_m, EOS``; the prefix (BOS and the optional ``prompt``) is given and
the rest is predicted:

    log_prob(d) = sum_{t=1..m+1} log p(x_t | BOS, prompt, x_<t),   x_{m+1} = EOS   (nats)

It is exact (no truncation: a document longer than the model's context is an error).
``fit`` minimises the mean of the same per-token terms; ``sample`` draws ``x_1, x_2, ...`` after
the prefix until EOS. Documents and the prompt are tokenised separately (no special tokens), and
samples are the decoded generated tokens only (special tokens dropped, prompt not included).

``token_counts(d)`` counts WORDS, not model tokens: ``len(tokenize(d)) + 1`` with
:func:`modelcollapse.data.tokenize.tokenize`, exactly as the n-gram model. So
``exp(-sum log_prob / sum token_counts)`` is a per-word perplexity, comparable across tokenizers,
across generations and with the n-gram baseline (the total log-likelihood is the same whatever
the unit; only the normaliser differs).

Warm start (sklearn's convention, Shumailov et al.'s "fine-tune the previous generation"): with
``warm_start=True`` a fitted generator (e.g. after ``load_state_dict``) continues training its
current weights and keeps its tokenizer. Otherwise ``fit`` starts from the initial checkpoint
(``init="pretrained"``) or a fresh random initialisation drawn from ``rng`` (``init="random"``,
from the model's config; meant for tiny test models). The optimizer state is not carried over.

Checkpoints (``state_dict``), numpy arrays only, never pickled:

- ``finetune="full"``: every weight (``weights/<name>``, float32; tied weights stored once), the
  config and tokenizer as UTF-8 JSON (``config``, ``tokenizer``), and ``bos_id``/``eos_id``.
  135M parameters take ~540 MB. Self-contained: loading needs no model files.
- ``finetune="lora"``: only the adapter (``adapter/<name>``), plus a reference to the base
  model: ``base_model`` (the ``model`` string, UTF-8) and ``base_init_seed`` (-1 for the
  pretrained weights, else the seed of the random initialisation), and ``lora_r``/``lora_alpha``.
  Loading re-reads the same base model, which must not have changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Self

import numpy as np

from modelcollapse.data.tokenize import tokenize
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators import hf_inference, hf_loading, hf_lora, hf_weights
from modelcollapse.generators.base import Generator, check_n, check_rng
from modelcollapse.generators.hf_training import finetune, n_steps
from modelcollapse.generators.ngram import check_docs
from modelcollapse.generators.registry import register
from modelcollapse.generators.torch_utils import (
    array_to_text,
    pick_device,
    require_torch,
    text_to_array,
    torch_generator,
    use_threads,
)
from modelcollapse.generators.validation import check_choice, check_float, check_int
from modelcollapse.guard.watermark import check_watermark_spec, resolve_watermark

_DTYPES = ("float32", "bfloat16", "float16")
_SEED_HIGH = 2**63 - 1


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidParameterError(f"{name}: expected a bool, got {value!r}")
    return bool(value)


def _check_optional_str(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidParameterError(f"{name}: expected a non-empty string or None, got {value!r}")
    return value


@register
class HuggingFaceLM(Generator):
    """A local Hugging Face causal LM, fine-tuned in full or with LoRA (data kind ``text``).

    Hyperparameters:
        model: a local model directory, a ``.gguf`` file, ``"smollm2-135m"`` (packaged) or
            ``"tiny"`` (built-in 2-layer test model). gguf_file: a GGUF file inside a ``model``
            directory. tokenizer: a tokenizer directory or ``tokenizer.json`` overriding the
            model's. cache: cache de-quantised GGUF weights as safetensors (``hf_cache``).
        init: ``"pretrained"`` weights, or ``"random"`` from the model's config and ``rng``.
        finetune: ``"full"`` or ``"lora"`` (lora_r, lora_alpha, lora_dropout, target_modules;
            target_modules None lets peft choose for known architectures).
        epochs / steps: training passes over the documents, or an exact number of optimizer
            steps when ``steps`` is set (0 = no training). batch_size, lr, weight_decay,
            max_grad_norm (0 = no clipping): AdamW. max_length: training sequences (prefix +
            document + EOS) are cut to this many tokens.
        decoding: ``"sample"`` (ancestral, with temperature, top_k (0 = off), top_p (1 = off)) or
            ``"beam"`` (the num_beams best beams, deterministic; ``sample(n)`` cycles through
            them, best first). max_new_tokens: cap on generated tokens per document.
        prompt: text given before every document (empty: documents start right after BOS).
        bos_token / eos_token: document delimiters (token strings); None: see ``hf_loading``.
        eval_batch_size: documents per forward pass in ``sample`` and ``log_prob``.
        device, threads, dtype (``"float32"``, or ``"bfloat16"``/``"float16"`` on a GPU).
        warm_start: continue from the current weights when already fitted.
        watermark: None, or a green-list watermark for ``sample`` (Kirchenbauer et al. 2023):
            ``{key_env: NAME}`` or ``{key_file: PATH}`` plus optional ``gamma``, ``delta``,
            ``context_width``, ``seeding`` (:mod:`modelcollapse.guard.watermark`); the key is
            read when sampling, never stored. Detect with ``detect_text(doc, gen.tokenizer_,
            cfg, prefix=gen._prefix())``.

    Learned: ``model_`` (torch module; a peft model with LoRA), ``tokenizer_``
    (``tokenizers.Tokenizer``), ``bos_id_``, ``eos_id_``, ``base_init_seed_``.
    """

    kind = "hf"
    # The run store writes this model's weights as safetensors (see loop/store.py).
    checkpoint_format = "safetensors"
    data_kind = "text"

    def __init__(
        self,
        *,
        model: str = "smollm2-135m",
        gguf_file: str | None = None,
        tokenizer: str | None = None,
        init: Literal["pretrained", "random"] = "pretrained",
        finetune: Literal["full", "lora"] = "full",
        lora_r: int = 8,
        lora_alpha: float = 16.0,
        lora_dropout: float = 0.0,
        target_modules: list[str] | str | None = None,
        epochs: int = 1,
        steps: int | None = None,
        batch_size: int = 8,
        lr: float = 5e-5,
        weight_decay: float = 0.0,
        max_grad_norm: float = 1.0,
        max_length: int = 256,
        decoding: Literal["sample", "beam"] = "sample",
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        num_beams: int = 4,
        max_new_tokens: int = 64,
        prompt: str = "",
        bos_token: str | None = None,
        eos_token: str | None = None,
        eval_batch_size: int = 16,
        device: str = "auto",
        threads: int | None = None,
        dtype: Literal["float32", "bfloat16", "float16"] = "float32",
        cache: bool = True,
        warm_start: bool = False,
        watermark: dict[str, Any] | None = None,
    ):
        self.model = model
        self.gguf_file = gguf_file
        self.tokenizer = tokenizer
        self.init = init
        self.finetune = finetune
        self.lora_r = lora_r
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.target_modules = target_modules
        self.epochs = epochs
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.max_length = max_length
        self.decoding = decoding
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self.num_beams = num_beams
        self.max_new_tokens = max_new_tokens
        self.prompt = prompt
        self.bos_token = bos_token
        self.eos_token = eos_token
        self.eval_batch_size = eval_batch_size
        self.device = device
        self.threads = threads
        self.dtype = dtype
        self.cache = cache
        self.warm_start = warm_start
        self.watermark = watermark

    # -- validation -------------------------------------------------------------------------
    def _check_params(self) -> None:
        check_choice("init", self.init, ("pretrained", "random"))
        check_choice("finetune", self.finetune, ("full", "lora"))
        check_choice("decoding", self.decoding, ("sample", "beam"))
        check_choice("dtype", self.dtype, _DTYPES)
        check_int("lora_r", self.lora_r)
        check_float("lora_alpha", self.lora_alpha, low_inclusive=False)
        if check_float("lora_dropout", self.lora_dropout) >= 1.0:
            raise InvalidParameterError(
                f"lora_dropout: expected a number in [0, 1), got {self.lora_dropout!r}"
            )
        tm = self.target_modules
        if tm is not None and not (
            (isinstance(tm, str) and tm)
            or (isinstance(tm, (list, tuple)) and tm and all(isinstance(t, str) for t in tm))
        ):
            raise InvalidParameterError(
                f"target_modules: expected None, a regex or a list of module names, got {tm!r}"
            )
        check_int("epochs", self.epochs, low=0)
        if self.steps is not None:
            check_int("steps", self.steps, low=0)
        check_int("batch_size", self.batch_size)
        check_float("lr", self.lr)
        check_float("weight_decay", self.weight_decay)
        check_float("max_grad_norm", self.max_grad_norm)
        check_int("max_length", self.max_length, low=2)
        temperature = check_float("temperature", self.temperature, low_inclusive=False)
        if not np.isfinite(1.0 / temperature):
            raise InvalidParameterError(
                f"temperature: expected a number >= 1e-300, got {temperature!r}"
            )
        check_int("top_k", self.top_k, low=0)
        top_p = check_float("top_p", self.top_p, low_inclusive=False)
        if top_p > 1.0:
            raise InvalidParameterError(f"top_p: expected a number in (0, 1], got {top_p!r}")
        check_int("num_beams", self.num_beams)
        check_int("max_new_tokens", self.max_new_tokens)
        check_int("eval_batch_size", self.eval_batch_size)
        if not isinstance(self.prompt, str):
            raise InvalidParameterError(f"prompt: expected a string, got {self.prompt!r}")
        _check_optional_str("bos_token", self.bos_token)
        _check_optional_str("eos_token", self.eos_token)
        _check_optional_str("gguf_file", self.gguf_file)
        _check_bool("cache", self.cache)
        _check_bool("warm_start", self.warm_start)
        check_watermark_spec(self.watermark)

    def _ready(self) -> Any:
        """Validate, set threads, and put the model on the requested device and dtype."""
        self._check_params()
        torch = require_torch()
        use_threads(self.threads)
        device = pick_device(self.device)
        if self.is_fitted:
            self.model_.to(device=device, dtype=getattr(torch, self.dtype))
        return device

    # -- building ---------------------------------------------------------------------------
    def _source(self) -> hf_loading.ModelSource:
        return hf_loading.resolve_source(self.model, self.gguf_file, self.tokenizer)

    def _base(self, src: hf_loading.ModelSource, init_seed: int) -> tuple[Any, Any]:
        """The initial model (CPU, float32) and tokenizer: pretrained, or random from a seed."""
        if init_seed < 0:
            return hf_loading.load_pretrained(src, cache=bool(self.cache))
        config, tok = hf_loading.load_config_and_tokenizer(src, cache=bool(self.cache))
        return hf_loading.build_random(config, init_seed), tok

    def _lora(self, model: Any, seed: int) -> Any:
        torch = require_torch()
        gen = torch.Generator(device="cpu")
        gen.manual_seed(seed)
        tm = self.target_modules
        return hf_lora.add_lora(
            model,
            r=int(self.lora_r),
            alpha=float(self.lora_alpha),
            dropout=float(self.lora_dropout),
            target_modules=list(tm) if isinstance(tm, (list, tuple)) else tm,
            generator=gen,
        )

    def _set(self, model: Any, tok: Any, bos: int, eos: int, base_seed: int, device: Any) -> None:
        torch = require_torch()
        self.model_ = model.to(device=device, dtype=getattr(torch, self.dtype)).eval()
        self.tokenizer_ = tok
        self.bos_id_, self.eos_id_ = int(bos), int(eos)
        self.base_init_seed_ = int(base_seed)
        self.context_ = hf_loading.context_length(self._config())

    def _config(self) -> Any:
        model = self.model_
        return model.get_base_model().config if hasattr(model, "get_base_model") else model.config

    # -- tokens -----------------------------------------------------------------------------
    def _prefix(self) -> list[int]:
        prompt = (
            self.tokenizer_.encode(self.prompt, add_special_tokens=False).ids if self.prompt else []
        )
        return [self.bos_id_, *prompt]

    def _sequences(self, docs: list[str]) -> list[list[int]]:
        """``prefix + tokens + [EOS]`` per document."""
        prefix = self._prefix()
        encoded = self.tokenizer_.encode_batch(docs, add_special_tokens=False) if docs else []
        return [[*prefix, *e.ids, self.eos_id_] for e in encoded]

    # -- the contract -----------------------------------------------------------------------
    def fit(self, data: Sequence[str], *, rng: np.random.Generator | None = None) -> Self:
        """Fine-tune on ``data`` from the initial checkpoint, or from the current weights when
        ``warm_start`` and fitted. ``rng`` (required) draws the initialisation and batch order."""
        self._check_params()
        if rng is None:
            raise InvalidParameterError(
                "hf.fit: expected rng=numpy.random.Generator (initialisation and batch order "
                "are random), got None"
            )
        rng = check_rng(rng)
        docs = check_docs(data, min_docs=1)
        device = self._ready()
        if not (self.warm_start and self.is_fitted):
            src = self._source()
            seed, lora_seed = (int(s) for s in rng.integers(0, _SEED_HIGH, size=2))
            base_seed = -1 if self.init == "pretrained" else seed
            model, tok = self._base(src, base_seed)
            bos, eos = hf_loading.special_ids(model, tok, src, self.bos_token, self.eos_token)
            if self.finetune == "lora":
                model = self._lora(model, lora_seed)
            self._set(model, tok, bos, eos, base_seed, device)
        limit = min(int(self.max_length), self.context_ or int(self.max_length))
        seqs = [s[:limit] for s in self._sequences(docs)]
        self.n_tokens_trained_ = finetune(
            self.model_,
            seqs,
            len(self._prefix()),
            steps=n_steps(len(seqs), int(self.batch_size), int(self.epochs), self.steps),
            batch_size=int(self.batch_size),
            lr=float(self.lr),
            weight_decay=float(self.weight_decay),
            max_grad_norm=float(self.max_grad_norm),
            generator=torch_generator(rng, "cpu"),
            dropout_seed=int(rng.integers(0, _SEED_HIGH)),
            pad_id=self.eos_id_,
            device=device,
        )
        return self

    def sample(self, n: int, *, rng: np.random.Generator) -> list[str]:
        """``n`` documents generated after the prefix; decoded, special tokens dropped.

        ``decoding="beam"`` is deterministic and ignores ``rng`` (still validated).
        """
        n, rng = check_n(n), check_rng(rng)
        self._check_fitted()
        device = self._ready()
        if n == 0:
            return []
        prefix = self._prefix()
        if self.context_ is not None and len(prefix) + int(self.max_new_tokens) > self.context_:
            raise InvalidParameterError(
                f"max_new_tokens: expected at most {self.context_ - len(prefix)} (the model's "
                f"context minus the prefix), got {self.max_new_tokens!r}"
            )
        common = {
            "eos_id": self.eos_id_,
            "max_new_tokens": int(self.max_new_tokens),
            "device": device,
            "watermark": resolve_watermark(self.watermark),
        }
        if self.decoding == "beam":
            seqs = hf_inference.beam_search(
                self.model_, prefix, n, pad_id=self.eos_id_, num_beams=int(self.num_beams), **common
            )
        else:
            seqs = hf_inference.sample(
                self.model_,
                prefix,
                n,
                batch_size=int(self.eval_batch_size),
                generator=torch_generator(rng, device),
                temperature=float(self.temperature),
                top_k=int(self.top_k),
                top_p=float(self.top_p),
                **common,
            )
        return self.tokenizer_.decode_batch(seqs, skip_special_tokens=True)

    def log_prob(self, data: Sequence[str]) -> np.ndarray:
        """Exact ``log p(document tokens, EOS | BOS, prompt)`` in nats, float64 (n,)."""
        self._check_fitted()
        docs = check_docs(data)
        device = self._ready()
        if not docs:
            return np.zeros(0)
        seqs = self._sequences(docs)
        if self.context_ is not None:
            for i, s in enumerate(seqs):
                if len(s) > self.context_:
                    raise DataError(
                        f"docs[{i}]: expected at most {self.context_} tokens with the prefix and "
                        f"EOS (the model's context), got {len(s)}"
                    )
        return hf_inference.score(
            self.model_,
            seqs,
            len(self._prefix()),
            pad_id=self.eos_id_,
            batch_size=int(self.eval_batch_size),
            device=device,
        )

    def token_counts(self, data: Sequence[str]) -> np.ndarray:
        """Words per document plus one for EOS (int64), as ``NGram.token_counts``."""
        return np.array([len(tokenize(d)) + 1 for d in check_docs(data)], dtype=np.int64)

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Numpy arrays only; see the module docstring for the two layouts."""
        self._check_fitted()
        state = {
            "finetune": text_to_array(self.finetune),
            "tokenizer": text_to_array(self.tokenizer_.to_str()),
            "bos_id": np.array(self.bos_id_, dtype=np.int64),
            "eos_id": np.array(self.eos_id_, dtype=np.int64),
        }
        if self.finetune == "lora":
            state["base_model"] = text_to_array(self.model)
            state["base_init_seed"] = np.array(self.base_init_seed_, dtype=np.int64)
            state["lora_r"] = np.array(int(self.lora_r), dtype=np.int64)
            state["lora_alpha"] = np.array(float(self.lora_alpha), dtype=np.float64)
            state.update(hf_lora.adapter_state(self.model_))
        else:
            state["config"] = text_to_array(self._config().to_json_string())
            state.update(hf_weights.weights_state(self.model_))
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Self:
        """Rebuild the model from ``state_dict`` output; never unpickles."""
        self._check_params()
        from tokenizers import Tokenizer

        def text(key: str) -> str:
            if key not in state:
                raise DataError(f"hf state: expected key {key!r}, missing")
            try:
                return array_to_text(state[key])
            except (UnicodeDecodeError, ValueError, TypeError):
                raise DataError(f"hf state: expected {key!r} as UTF-8 bytes (uint8)") from None

        def integer(key: str) -> int:
            arr = np.asarray(state.get(key))
            if key not in state or arr.shape != () or arr.dtype.kind not in "iu":
                raise DataError(
                    f"hf state: expected {key!r} as one integer, got {state.get(key)!r}"
                )
            return int(arr)

        kind = text("finetune")
        if kind != self.finetune:
            raise InvalidParameterError(
                f"hf state: expected finetune={self.finetune!r} as this generator, got {kind!r}"
            )
        try:
            tok = Tokenizer.from_str(text("tokenizer"))
        except Exception as exc:  # the tokenizers library raises its own exception type
            raise DataError(
                f"hf state: expected a tokenizer JSON, got an unreadable one ({exc})"
            ) from None
        bos, eos = integer("bos_id"), integer("eos_id")
        device = self._ready()
        if kind == "lora":
            if text("base_model") != self.model:
                raise InvalidParameterError(
                    f"hf state: expected an adapter for model={self.model!r}, got one for "
                    f"{text('base_model')!r}"
                )
            if integer("lora_r") != self.lora_r or float(state["lora_alpha"]) != float(
                self.lora_alpha
            ):
                raise InvalidParameterError(
                    f"hf state: expected lora_r={self.lora_r}, lora_alpha={self.lora_alpha}, got "
                    f"{integer('lora_r')}, {float(state['lora_alpha'])}"
                )
            base_seed = integer("base_init_seed")
            model, _ = self._base(self._source(), base_seed)
            model = self._lora(model, 0)  # the adapter values are overwritten just below
            hf_lora.load_adapter(model, state)
        else:
            base_seed = -1
            try:
                config = hf_loading.config_from_json(text("config"))
            except (ValueError, KeyError) as exc:
                raise DataError(f"hf state: expected a model config JSON ({exc})") from None
            model = hf_loading.model_from_config(config)
            hf_weights.load_weights(model, state)
        if not (0 <= bos < tok.get_vocab_size(True) and 0 <= eos < tok.get_vocab_size(True)):
            raise DataError(f"hf state: expected bos_id/eos_id in the tokenizer, got {bos}, {eos}")
        self._set(model, tok, bos, eos, base_seed, device)
        return self
