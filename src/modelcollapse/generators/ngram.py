"""Word-level n-gram language model with interpolated modified Kneser-Ney smoothing.

The classic text generator of the collapse literature: cheap enough to refit every generation on a
few thousand documents, with a real likelihood so held-out perplexity is exact.

- Tokens come from :mod:`modelcollapse.data.tokenize` (words and single punctuation characters,
  optionally lowercased). Sampled documents are joined with its ``detokenize`` (single spaces,
  punctuation attached to the previous token).
- Each document is padded with ``n - 1`` ``<s>`` and ends with a predicted ``</s>``, so the model
  learns where documents end and samples whole documents. The empty string is a valid document
  (just ``</s>``).
- Smoothing: interpolated modified Kneser-Ney with three discounts per order (Chen & Goodman 1999),
  interpolated at the bottom with a uniform distribution over the vocabulary, ``</s>`` and
  ``<unk>``, so held-out text with unseen words has finite probability; see
  :mod:`modelcollapse.generators.kneser_ney` for the exact formula and its conventions.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, repeat
from typing import Any, Self

import numpy as np

from modelcollapse.data.tokenize import is_word, tokenize
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.generators.base import Generator, check_n, check_rng
from modelcollapse.generators.kneser_ney import EOS, UNK, KneserNeyTables, padded_sequence
from modelcollapse.generators.kneser_ney_sampler import TemperatureSampler
from modelcollapse.generators.registry import register
from modelcollapse.generators.validation import check_float, check_int
from modelcollapse.guard.watermark import (
    BOS_WORD_CODE,
    PAD_CODE,
    WatermarkConfig,
    check_watermark_spec,
    resolve_watermark,
    word_codes,
)

SPECIALS = ("<unk>", "</s>")  # outcome ids 0 and 1; <s> (id W) is never an outcome


def check_docs(docs: Any, *, name: str = "docs", min_docs: int = 0) -> list[str]:
    """A list of str documents; anything else raises DataError naming the offending item."""
    if isinstance(docs, (str, bytes)) or not isinstance(docs, (Sequence, np.ndarray)):
        raise DataError(f"{name}: expected a sequence of str documents, got {type(docs).__name__}")
    docs = list(docs)
    for i, doc in enumerate(docs):
        if not isinstance(doc, str):
            raise DataError(f"{name}[{i}]: expected str, got {type(doc).__name__}")
    if len(docs) < min_docs:
        raise DataError(f"{name}: expected at least {min_docs} document(s), got {len(docs)}")
    return docs


@register
class NGram(Generator):
    """Interpolated modified Kneser-Ney n-gram model over words (data kind ``text``).

    Hyperparameters:
        n: the order (1 = unigram, 3 = trigram).
        lowercase: lowercase text before tokenizing (applies to fit, log_prob and token_counts).
        temperature: sampling bias; tokens are drawn from ``p(w | h) ** (1/T)`` renormalised over
            the vocabulary and ``</s>`` (``<unk>`` and ``<s>`` are never sampled). ``log_prob``
            always uses the model itself (``T = 1``).
        max_tokens: cap on tokens per sampled document; a document that reaches it is cut there.
        watermark: None, or the green-list watermark to embed in samples (Kirchenbauer et al.
            2023): ``{key_env: NAME}`` or ``{key_file: PATH}`` plus optional ``gamma``,
            ``delta``, ``context_width``, ``seeding`` (:mod:`modelcollapse.guard.watermark`).
            The key is read when sampling and never stored. Green lists are over word strings
            (``word_codes``) with ``<s>`` starting each document, so
            ``detect_text(doc, "words", cfg)`` checks a sample without the model.

    Learned: ``vocab_`` (``<U`` array of word types, sorted; numpy shows the token ``"\x00"`` as
    ``""``), ``discounts_`` (n, 3) with ``(D1, D2, D3+)`` per order ``1..n``, and ``tables_`` (the
    :class:`~modelcollapse.generators.kneser_ney.KneserNeyTables`).
    """

    kind = "ngram"
    data_kind = "text"

    def __init__(
        self,
        *,
        n: int = 3,
        lowercase: bool = False,
        temperature: float = 1.0,
        max_tokens: int = 200,
        watermark: dict[str, Any] | WatermarkConfig | None = None,
    ):
        self.n = n
        self.lowercase = lowercase
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.watermark = watermark

    # -- validation -------------------------------------------------------------------------
    def _check_params(self) -> None:
        check_int("n", self.n, low=1)
        if not isinstance(self.lowercase, (bool, np.bool_)):
            raise InvalidParameterError(f"lowercase: expected a bool, got {self.lowercase!r}")
        temperature = check_float("temperature", self.temperature, low_inclusive=False)
        if not np.isfinite(1.0 / temperature):  # subnormal T: p ** (1/T) is undefined
            raise InvalidParameterError(
                f"temperature: expected a number >= 1e-300, got {temperature!r}"
            )
        check_int("max_tokens", self.max_tokens, low=1)
        check_watermark_spec(self.watermark)

    def _tokenize(self, docs: list[str]) -> list[list[str]]:
        lower = bool(self.lowercase)
        return [tokenize(d, lower) for d in docs]

    def _encode(self, toks: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Word ids (unknown words -> ``<unk>``) concatenated, and tokens per document."""
        lengths = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
        flat = chain.from_iterable(toks)
        ids = np.fromiter(
            map(self._index.get, flat, repeat(UNK)), dtype=np.int64, count=int(lengths.sum())
        )
        return ids, lengths

    # -- the contract -----------------------------------------------------------------------
    def fit(self, data: Sequence[str], *, rng: np.random.Generator | None = None) -> Self:
        """Count n-grams of the documents and estimate the discounts (``rng`` is unused)."""
        self._check_params()
        toks = self._tokenize(check_docs(data, min_docs=1))
        self._set_vocab(sorted(set(chain.from_iterable(toks))))
        ids, lengths = self._encode(toks)
        self.tables_ = KneserNeyTables.from_corpus(ids, lengths, self.n, self.n_outcomes)
        self.discounts_ = self.tables_.discounts
        return self

    def _set_vocab(self, words: list[str]) -> None:
        # ``words`` is authoritative: a <U array cannot hold the token "\x00" (see load_state_dict)
        self.vocab_ = np.array(words, dtype=str)
        self._index = {t: i + len(SPECIALS) for i, t in enumerate(words)}
        self._outcomes = [*SPECIALS, *words]
        # detokenize() per id: words get a leading space, punctuation attaches to the left
        self._pieces = np.array(
            ["", ""] + [(" " + t) if is_word(t) else t for t in words], dtype=object
        )
        self._samplers: dict[float, TemperatureSampler] = {}
        self._codes: np.ndarray | None = None  # word_codes of the outcomes, for the watermark

    @property
    def n_outcomes(self) -> int:
        """``W``: word types + ``</s>`` + ``<unk>``, the size of every next-token distribution."""
        self._check_fitted()
        return len(self._outcomes)

    @property
    def outcomes_(self) -> list[str]:
        """Outcome strings in id order: ``["<unk>", "</s>", *vocab_]``."""
        self._check_fitted()
        return list(self._outcomes)

    def sample(self, n: int, *, rng: np.random.Generator) -> list[str]:
        """``n`` documents, generated token by token until ``</s>`` or ``max_tokens``."""
        n, rng = check_n(n), check_rng(rng)
        self._check_fitted()
        self._check_params()
        temperature = float(self.temperature)
        if temperature not in self._samplers:
            self._samplers = {temperature: TemperatureSampler(self.tables_, temperature)}
        sampler = self._samplers[temperature]
        order, max_tokens = self.tables_.n, int(self.max_tokens)
        history = np.full((n, order - 1), self.tables_.bos, dtype=np.int64)
        mark = self._watermark_draw(n)
        # every unfinished document advances one token per step; memory grows with the tokens
        # actually drawn, not with n * max_tokens
        drawn_docs, drawn_tokens = [], []
        active = np.arange(n)
        for _ in range(max_tokens):
            if not active.size:
                break
            ctx_ids = self.tables_.context_ids(history[active])
            nxt = (
                sampler.draw(ctx_ids, rng) if mark is None else mark(active, ctx_ids, sampler, rng)
            )
            go = nxt != EOS
            active, nxt = active[go], nxt[go]
            drawn_docs.append(active)
            drawn_tokens.append(nxt)
            if order > 1:
                history[active, :-1] = history[active, 1:]
                history[active, -1] = nxt
        doc_of = np.concatenate([np.zeros(0, np.int64), *drawn_docs])
        by_doc = np.argsort(doc_of, kind="stable")  # stable: each document's tokens stay in order
        pieces = self._pieces[np.concatenate([np.zeros(0, np.int64), *drawn_tokens])[by_doc]]
        counts = np.bincount(doc_of, minlength=n)
        ends = np.cumsum(counts)
        out = []
        for start, end in zip(ends - counts, ends, strict=True):
            text = "".join(pieces[start:end])
            out.append(text[1:] if text.startswith(" ") else text)
        return out

    def _watermark_draw(self, n: int) -> Any:
        """None without a watermark; else ``draw(active, ctx_ids, sampler, rng)`` drawing the
        tilted next tokens and remembering each document's last ``h`` word codes."""
        cfg = resolve_watermark(self.watermark)
        if cfg is None:
            return None
        if self._codes is None:
            self._codes = word_codes(self._outcomes)
        codes, h = self._codes, cfg.context_width
        recent = np.full((n, h), PAD_CODE, dtype=np.uint64)
        recent[:, -1] = BOS_WORD_CODE

        def draw(active, ctx_ids, sampler, rng):
            ctx = recent[active]
            nxt = sampler.draw_tilted(
                ctx_ids,
                rng,
                is_green=lambda rows, tok: cfg.is_green(ctx[rows], codes[tok]),
                green_mask=lambda rows: cfg.green_mask(ctx[rows], codes),
                delta=cfg.delta,
            )
            recent[active, :-1] = recent[active, 1:]
            recent[active, -1] = codes[nxt]
            return nxt

        return draw

    def log_prob(self, data: Sequence[str]) -> np.ndarray:
        """``log p(document)`` in nats under the model (temperature 1), one value per document.

        The sum over the document's tokens and its ``</s>``; words unseen at fit count as
        ``<unk>``. Held-out perplexity is ``exp(-log_prob(docs).sum() / token_counts(docs).sum())``.
        """
        self._check_fitted()
        docs = check_docs(data)
        if not docs:
            return np.zeros(0)
        tables = self.tables_
        ids, lengths = self._encode(self._tokenize(docs))
        seq, pos = padded_sequence(ids, lengths, tables.n, tables.bos)
        # column i holds the token n-1-i places back, as in context_ids
        history = np.empty((pos.size, tables.n - 1), dtype=np.int64)
        for i in range(tables.n - 1):
            history[:, i] = seq[pos - (tables.n - 1 - i)]
        per_token = tables.log_prob_next(tables.context_ids(history), seq[pos])
        doc_of = np.repeat(np.arange(len(docs)), lengths + 1)
        return np.bincount(doc_of, weights=per_token, minlength=len(docs))

    def token_counts(self, data: Sequence[str]) -> np.ndarray:
        """Predicted tokens per document: its tokens plus one for ``</s>`` (int64)."""
        return np.array([len(t) + 1 for t in self._tokenize(check_docs(data))], dtype=np.int64)

    def next_token_log_probs(self, contexts: Sequence[Sequence[str]]) -> np.ndarray:
        """``log p(w | context)`` for every outcome ``w`` (columns in ``outcomes_`` order), (m, W).

        A context is a list of tokens; only its last ``n - 1`` matter and a shorter one is taken to
        be the start of a document (left-padded with ``<s>``). Unknown tokens count as ``<unk>``.
        """
        self._check_fitted()
        tables, w = self.tables_, self.n_outcomes
        history = np.full((len(contexts), tables.n - 1), tables.bos, dtype=np.int64)
        for i, ctx in enumerate(contexts):
            if isinstance(ctx, str):
                raise DataError(f"contexts[{i}]: expected a list of tokens, got str")
        if tables.n > 1:
            for i, ctx in enumerate(contexts):
                ids = [self._index.get(t, UNK) for t in list(ctx)[-(tables.n - 1) :]]
                if ids:
                    history[i, -len(ids) :] = ids
        ctx_ids = np.repeat(tables.context_ids(history), w, axis=0)
        outcome = np.tile(np.arange(w), len(contexts))
        return tables.log_prob_next(ctx_ids, outcome).reshape(len(contexts), w)

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """``vocab`` (``<U``), ``order`` and the integer count tables; see ``KneserNeyTables``."""
        self._check_fitted()
        return {
            "vocab": self.vocab_.copy(),
            "order": np.array(self.tables_.n),
            **self.tables_.state(),
        }

    def load_state_dict(self, state: dict[str, np.ndarray]) -> Self:
        self._check_params()
        if "vocab" not in state or "order" not in state:
            raise DataError("NGram state: expected keys 'vocab' and 'order'")
        vocab, order = np.asarray(state["vocab"]), np.asarray(state["order"])
        if vocab.ndim != 1 or vocab.dtype.kind != "U":
            raise DataError(
                f"NGram state: expected vocab as a 1-D <U array, got {vocab.dtype} {vocab.shape}"
            )
        if order.shape != () or order.dtype.kind not in "iu" or int(order) != self.n:
            raise InvalidParameterError(f"NGram state: expected order n={self.n}, got {order!r}")
        # numpy's <U arrays drop trailing NUL characters, so the one-character token "\x00" comes
        # back as "" (no real token is empty).
        words = ["\x00" if t == "" else t for t in vocab.tolist()]
        if len(set(words)) != len(words):
            raise DataError("NGram state: expected distinct vocab entries, got duplicates")
        tables = KneserNeyTables.from_state(state, self.n, len(words) + len(SPECIALS))
        self._set_vocab(words)
        self.tables_ = tables
        self.discounts_ = tables.discounts
        return self
