"""``transformer``: a small decoder-only language model over documents (data kind ``text``).

The neural text generator of the collapse experiments: Shumailov et al. 2024 (Nature 631,
"AI models collapse when trained on recursively generated data") fine-tune OPT-125m on its own
samples; this is the same loop at CPU scale. The network is
:class:`~modelcollapse.generators.transformer_model.TransformerLM` (GPT-2 style, after Radford et
al. 2019 and Karpathy's nanoGPT); the tokenizer is
:class:`~modelcollapse.generators.text_tokenizer.TextTokenizer` (``char`` or byte-level ``bpe``,
trained on the training documents).

Definitions:

- A document is the sequence ``s = [<bos>, t_1, ..., t_n, <eos>]``. ``log_prob(doc)`` is
  ``sum_{i=1}^{n+1} log p(s_i | s_<i)`` in nats: every token and the end of the document.
  Unseen characters (``char`` tokenizer) are ``<unk>`` tokens.
- Context is at most ``block_size`` tokens. A document with ``n + 1 <= block_size`` is scored
  exactly from its whole prefix. Longer documents use sliding windows with stride
  ``S = block_size // 2`` (as in the Hugging Face perplexity guide): token ``s_i`` with
  ``i > block_size`` is predicted from ``s[a:i]`` with ``a = ceil((i - block_size) / S) * S``.
  Training uses the same windows (each target counted once) and ``sample`` draws from exactly
  the same conditionals, so the model that is sampled is the model that is scored.
- ``token_counts(doc)`` is in WORD units, ``len(tokenize(doc)) + 1`` (the ``NGram`` count, see
  :mod:`modelcollapse.data.tokenize`), so ``exp(-sum log_prob / sum token_counts)`` is a
  per-word perplexity, comparable across tokenizers, generations and the n-gram baseline.
- ``sample`` draws from ``softmax(logits / temperature)`` restricted by ``top_k`` (the k most
  likely tokens) and then ``top_p`` (the smallest most-likely set with mass >= p; Holtzman et al.
  2020), stopping at ``<eos>`` or after ``max_new_tokens`` tokens (the document is cut there).
  ``log_prob`` always uses the model itself (temperature 1, no truncation).

Training: AdamW (weight decay on matrices only), linear warm-up over ``warmup_steps`` then
cosine decay to ``lr / 10``, gradient clipping at 1, mini-batches of ``batch_size`` windows of
similar length (``transformer_model.epoch_batches``), each window once per epoch. Dropout
masks come from the fit's generator, so ``dropout > 0`` stays reproducible.
``warm_start=True`` on a fitted model continues from the current weights and tokenizer (fresh
optimizer and schedule); otherwise ``fit`` retrains the tokenizer and re-initialises the
weights from ``rng``.

On 5,000 KJV verses a ~1M-parameter model needs regularisation (dropout 0.1-0.25, weight decay
1.0) and about 4,000 steps to come near the trigram model; see benchmarks/transformer_kjv.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Self

import numpy as np

from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.base import Generator, check_n, check_rng
from modelcollapse.generators.ngram import check_docs
from modelcollapse.generators.registry import register
from modelcollapse.generators.text_tokenizer import BOS, EOS, PAD, TextTokenizer
from modelcollapse.generators.torch_utils import (
    array_to_text,
    load_numpy_state,
    pick_device,
    require_torch,
    text_to_array,
    to_numpy_state,
    torch_generator,
    use_threads,
)
from modelcollapse.generators.validation import check_choice, check_float, check_int
from modelcollapse.guard.watermark import check_watermark_spec, resolve_watermark

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from modelcollapse.generators.transformer_model import TransformerLM

_ARCH = ("vocab_size", "block_size", "n_layer", "n_head", "n_embd")  # the "config" state array
_SAMPLE_CHUNK = 256  # documents decoded together (bounds the KV cache memory)
_SCORE_CHUNK = 64  # windows per forward pass in log_prob


def windows(seqs: Sequence[Sequence[int]], block_size: int) -> tuple[np.ndarray, ...]:
    """Cut ``<bos> + ids + <eos>`` sequences into the scoring windows of the module docstring.

    Returns ``tokens`` (W, block_size + 1) padded with ``<pad>``, ``first`` (W,), ``length`` (W,)
    and ``doc`` (W,): window w predicts ``tokens[w, p + 1]`` from ``tokens[w, : p + 1]`` and
    counts it for document ``doc[w]`` when ``first[w] <= p < length[w]``.
    """
    stride = max(1, block_size // 2)
    rows, first, length, doc = [], [], [], []
    for d, ids in enumerate(seqs):
        s = [BOS, *ids, EOS]
        start = 0
        while True:
            chunk = s[start : start + block_size + 1]
            rows.append(chunk)
            first.append(0 if start == 0 else block_size - stride)
            length.append(len(chunk) - 1)
            doc.append(d)
            if start + block_size >= len(s) - 1:
                break
            start += stride
    tokens = np.full((len(rows), block_size + 1), PAD, dtype=np.int64)
    for w, chunk in enumerate(rows):
        tokens[w, : len(chunk)] = chunk
    return tokens, np.array(first, np.int64), np.array(length, np.int64), np.array(doc, np.int64)


@register
class Transformer(Generator):
    """Decoder-only transformer LM over documents (see the module docstring).

    Hyperparameters: architecture ``n_layer``, ``n_head``, ``n_embd`` (divisible by ``n_head``),
    ``block_size`` (context length in tokens), ``dropout``; tokenizer ``"char"`` or ``"bpe"``
    with ``vocab_size`` (bpe only, specials included); training ``steps`` (optimizer steps;
    ``epochs``, when given, overrides it with ``ceil(epochs * windows / batch_size)``),
    ``batch_size``, ``lr``, ``weight_decay``, ``warmup_steps``; sampling ``temperature``,
    ``top_k`` (None = off), ``top_p`` (1 = off), ``max_new_tokens``; ``device`` (``auto``: CUDA
    when present), ``threads`` (None: every core) and ``warm_start``; ``watermark``: None, or a
    green-list watermark for ``sample`` (Kirchenbauer et al. 2023), ``{key_env: NAME}`` or
    ``{key_file: PATH}`` plus optional ``gamma``, ``delta``, ``context_width``, ``seeding``
    (:mod:`modelcollapse.guard.watermark`); the key is read when sampling, never stored. Detect
    with ``detect_text(doc, model.tokenizer_, cfg)``.

    Learned: ``tokenizer_`` (TextTokenizer), ``model_`` (TransformerLM) and ``loss_curve_``
    (training loss per step of the last fit, float64; empty after ``load_state_dict``).
    """

    kind = "transformer"
    # The run store writes this model's weights as safetensors (see loop/store.py).
    checkpoint_format = "safetensors"
    data_kind = "text"

    def __init__(
        self,
        *,
        n_layer: int = 4,
        n_head: int = 4,
        n_embd: int = 128,
        block_size: int = 128,
        dropout: float = 0.0,
        tokenizer: Literal["char", "bpe"] = "bpe",
        vocab_size: int = 2000,
        steps: int = 2000,
        epochs: float | None = None,
        batch_size: int = 32,
        lr: float = 3e-3,
        weight_decay: float = 0.1,
        warmup_steps: int = 100,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        device: str = "auto",
        threads: int | None = None,
        warm_start: bool = False,
        watermark: dict[str, Any] | None = None,
    ):
        self.n_layer = n_layer
        self.n_head = n_head
        self.n_embd = n_embd
        self.block_size = block_size
        self.dropout = dropout
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self.steps = steps
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_steps = warmup_steps
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self.device = device
        self.threads = threads
        self.warm_start = warm_start
        self.watermark = watermark

    # -- validation -------------------------------------------------------------------------
    def _check_params(self) -> None:
        for name in ("n_layer", "n_head", "n_embd", "steps", "batch_size", "max_new_tokens"):
            check_int(name, getattr(self, name))
        check_int("block_size", self.block_size, low=2)
        check_int("warmup_steps", self.warmup_steps, low=0)
        if self.n_embd % self.n_head:
            raise InvalidParameterError(
                f"n_embd: expected a multiple of n_head={self.n_head}, got {self.n_embd}"
            )
        check_choice("tokenizer", self.tokenizer, ("char", "bpe"))
        check_int("vocab_size", self.vocab_size, low=260)  # 4 specials + 256 bytes
        dropout = check_float("dropout", self.dropout)
        if dropout >= 1:
            raise InvalidParameterError(f"dropout: expected a number in [0, 1), got {dropout!r}")
        if self.epochs is not None:
            check_float("epochs", self.epochs, low_inclusive=False)
        check_float("lr", self.lr, low_inclusive=False)
        check_float("weight_decay", self.weight_decay)
        check_float("temperature", self.temperature, low_inclusive=False)
        check_watermark_spec(self.watermark)
        if self.top_k is not None:
            check_int("top_k", self.top_k)
        top_p = check_float("top_p", self.top_p, low_inclusive=False)
        if top_p > 1:
            raise InvalidParameterError(f"top_p: expected a number in (0, 1], got {top_p!r}")
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise InvalidParameterError(f"warm_start: expected a bool, got {self.warm_start!r}")
        if self.threads is not None:
            check_int("threads", self.threads)
        if not isinstance(self.device, str):
            raise InvalidParameterError(f"device: expected a string, got {self.device!r}")

    def _setup(self) -> torch.device:
        self._check_params()
        use_threads(self.threads)
        return pick_device(self.device)

    def _build(self, vocab_size: int, dev: torch.device) -> TransformerLM:
        """A module on ``dev`` whose weights are still to be set (reset_parameters or a state).

        ``nn.Linear`` initialises itself from the global torch RNG; ``fork_rng`` restores that
        state afterwards, so building a model never changes anyone else's random stream.
        """
        torch = require_torch()
        from modelcollapse.generators.transformer_model import TransformerLM

        with torch.random.fork_rng(devices=[]):
            model = TransformerLM(
                vocab_size=vocab_size,
                block_size=self.block_size,
                n_layer=self.n_layer,
                n_head=self.n_head,
                n_embd=self.n_embd,
                dropout=float(self.dropout),
                n_masked=2,  # <pad> and <bos> are never predicted
            )
        return model.to(dev)

    # -- the contract -----------------------------------------------------------------------
    def fit(self, data: Sequence[str], *, rng: np.random.Generator | None = None) -> Self:
        """Train on the documents (``rng`` required: init, batch order and dropout are random)."""
        from modelcollapse.generators.transformer_model import train_lm

        dev = self._setup()
        if rng is None:
            raise InvalidParameterError(
                "transformer.fit: expected rng=numpy.random.Generator (initialisation and batch "
                "order are random), got None"
            )
        rng = check_rng(rng)
        docs = check_docs(data, min_docs=1)
        gen = torch_generator(rng, dev)
        if self.warm_start and self.is_fitted:
            tok, model = self.tokenizer_, self.model_.to(dev)
        else:
            tok = TextTokenizer.train(docs, self.tokenizer, int(self.vocab_size))
            model = self._build(tok.vocab_size, dev)
            model.reset_parameters(gen)
        tokens, first, length, _ = windows(tok.encode(docs), int(self.block_size))
        n_win, bs = len(tokens), min(int(self.batch_size), len(tokens))
        steps = int(self.steps)
        if self.epochs is not None:
            steps = max(1, math.ceil(float(self.epochs) * n_win / bs))
        losses = train_lm(
            model,
            tokens,
            first,
            length,
            gen,
            steps=steps,
            batch_size=bs,
            lr=float(self.lr),
            weight_decay=float(self.weight_decay),
            warmup_steps=int(self.warmup_steps),
        )
        if not np.isfinite(losses).all():
            raise DataError(
                "transformer.fit: expected a finite training loss, got NaN/inf; lower lr"
            )
        self.tokenizer_, self.model_, self.loss_curve_ = tok, model, losses
        return self

    def log_prob(self, data: Sequence[str]) -> np.ndarray:
        """``log p(document)`` in nats, ``<eos>`` included, one float64 per document."""
        torch = require_torch()
        self._check_fitted()
        docs = check_docs(data)
        dev = self._setup()
        model = self.model_.to(dev).eval()
        out = np.zeros(len(docs))
        if not docs:
            return out
        tokens, first, length, doc = windows(self.tokenizer_.encode(docs), model.block_size)
        by_len = np.argsort(length, kind="stable")  # similar lengths share a batch: less padding
        per_window = np.zeros(len(tokens))
        with torch.inference_mode():
            for lo in range(0, len(by_len), _SCORE_CHUNK):
                w = by_len[lo : lo + _SCORE_CHUNK]
                t = int(length[w].max())
                tok = torch.from_numpy(tokens[w, : t + 1]).to(dev)
                logp = torch.log_softmax(model(tok[:, :t]).float(), dim=-1)  # (b, t, V)
                lp = logp.gather(-1, tok[:, 1:, None])[..., 0].double().cpu().numpy()  # (b, t)
                p = np.arange(t)
                keep = (p >= first[w, None]) & (p < length[w, None])
                per_window[w] = np.where(keep, lp, 0.0).sum(axis=1)
        return np.bincount(doc, weights=per_window, minlength=len(docs))

    def token_counts(self, data: Sequence[str]) -> np.ndarray:
        """WORD units: ``len(tokenize(doc)) + 1`` per document (as ``NGram``), int64."""
        from modelcollapse.data.tokenize import tokenize

        return np.array([len(tokenize(d)) + 1 for d in check_docs(data)], dtype=np.int64)

    def _decoding(self) -> dict[str, Any]:
        """The keyword arguments of ``transformer_model.generate`` that the hyperparameters set."""
        return {
            "bos": BOS,
            "eos": EOS,
            "max_new_tokens": int(self.max_new_tokens),
            "temperature": float(self.temperature),
            "top_k": None if self.top_k is None else int(self.top_k),
            "top_p": float(self.top_p),
        }

    def sample(self, n: int, *, rng: np.random.Generator) -> list[str]:
        """``n`` documents drawn token by token (KV cache) until ``<eos>`` or ``max_new_tokens``."""
        torch = require_torch()
        from modelcollapse.generators.transformer_model import generate

        n, rng = check_n(n), check_rng(rng)
        self._check_fitted()
        dev = self._setup()
        model = self.model_.to(dev).eval()
        gen = torch_generator(rng, dev)
        mark = resolve_watermark(self.watermark)  # reads the key now; it is never stored
        ids: list[list[int]] = []
        with torch.inference_mode():
            for lo in range(0, n, _SAMPLE_CHUNK):
                ids.extend(
                    generate(
                        model, min(_SAMPLE_CHUNK, n - lo), gen, watermark=mark, **self._decoding()
                    )
                )
        return self.tokenizer_.decode(ids)

    def continue_texts(self, prompts: Sequence[str], *, rng: np.random.Generator) -> list[str]:
        """Each prompt followed by a sampled continuation (prompt included), one per prompt.

        The continuation is drawn as in :meth:`sample`, conditioned on ``<bos>`` and the
        prompt's tokens, until ``<eos>`` or ``max_new_tokens``. Prompts are batched by token
        length; each must be shorter than ``block_size`` tokens. Used for detection sets
        (:mod:`modelcollapse.guard.eval_data`): a human verse's first words, then the model.
        """
        torch = require_torch()
        from modelcollapse.generators.transformer_model import generate

        docs, rng = check_docs(prompts), check_rng(rng)
        self._check_fitted()
        encoded = self.tokenizer_.encode(docs)
        block = int(self.model_.block_size)
        for i, e in enumerate(encoded):
            if len(e) >= block:
                raise InvalidParameterError(
                    f"prompts[{i}]: expected fewer than block_size={block} tokens, got {len(e)}"
                )
        dev = self._setup()
        model = self.model_.to(dev).eval()
        gen = torch_generator(rng, dev)
        mark = resolve_watermark(self.watermark)
        by_length: dict[int, list[int]] = {}
        for i, e in enumerate(encoded):
            by_length.setdefault(len(e), []).append(i)
        out: list[str] = [""] * len(docs)
        with torch.inference_mode():
            for length in sorted(by_length):
                rows = by_length[length]
                for lo in range(0, len(rows), _SAMPLE_CHUNK):
                    chunk = rows[lo : lo + _SAMPLE_CHUNK]
                    # (b, length); an empty prompt gives (b, 0), nothing after <bos>
                    prefix = torch.tensor([encoded[r] for r in chunk], dtype=torch.long)
                    new = generate(
                        model, len(chunk), gen, watermark=mark, prefix=prefix, **self._decoding()
                    )
                    texts = self.tokenizer_.decode(
                        [encoded[r] + t for r, t in zip(chunk, new, strict=True)]
                    )
                    for r, text in zip(chunk, texts, strict=True):
                        out[r] = text
        return out

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """``config`` (int64: vocab_size, block_size, n_layer, n_head, n_embd), ``tokenizer``
        (uint8 JSON) and the weights as float arrays under ``model.<name>``."""
        self._check_fitted()
        m = self.model_
        config = [m.wte.num_embeddings, m.block_size, len(m.blocks), m.blocks[0].attn.n_head]
        config.append(m.wte.embedding_dim)
        return {
            "config": np.array(config, dtype=np.int64),
            "tokenizer": text_to_array(self.tokenizer_.to_json()),
            **to_numpy_state(m, "model."),
        }

    def load_state_dict(self, state: dict[str, Any]) -> Self:
        """Rebuild the tokenizer and the module from plain arrays (no pickle anywhere)."""
        dev = self._setup()
        for key in ("config", "tokenizer"):
            if key not in state:
                raise DataError(f"Transformer state: expected key {key!r}, missing")
        config = np.asarray(state["config"])
        if config.shape != (len(_ARCH),) or config.dtype.kind not in "iu":
            raise DataError(
                f"Transformer state: expected config as {len(_ARCH)} integers, got {config!r}"
            )
        arch = dict(zip(_ARCH, (int(v) for v in config), strict=True))
        for name in _ARCH[1:]:
            if arch[name] != getattr(self, name):
                raise InvalidParameterError(
                    f"Transformer state: expected {name}={getattr(self, name)} as in the "
                    f"hyperparameters, got {arch[name]}"
                )
        tok_arr = np.asarray(state["tokenizer"])
        if tok_arr.dtype != np.uint8 or tok_arr.ndim != 1:
            raise DataError(
                f"Transformer state: expected tokenizer as uint8 bytes, got {tok_arr.dtype}"
            )
        try:
            tok = TextTokenizer.from_json(array_to_text(tok_arr))
        except UnicodeDecodeError:
            raise DataError(
                "Transformer state: expected UTF-8 tokenizer JSON, got bad bytes"
            ) from None
        if tok.kind != self.tokenizer or tok.vocab_size != arch["vocab_size"]:
            raise InvalidParameterError(
                f"Transformer state: expected a {self.tokenizer!r} tokenizer of "
                f"{arch['vocab_size']} ids, got {tok.kind!r} with {tok.vocab_size}"
            )
        model = self._build(arch["vocab_size"], dev)
        weights = {k: v for k, v in state.items() if k.startswith("model.")}
        try:
            load_numpy_state(model, weights, prefix="model.")
        except (RuntimeError, TypeError) as exc:  # wrong shapes or dtypes
            raise DataError(f"Transformer state: weights do not fit the config ({exc})") from None
        model.eval()
        self.tokenizer_, self.model_, self.loss_curve_ = tok, model, np.zeros(0)
        return self
