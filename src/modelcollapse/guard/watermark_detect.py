"""Detecting the green-list watermark: the one-proportion z-test of Kirchenbauer et al. (2023).

For ``T`` scored tokens of which ``|s|_G`` are green,

    z = (|s|_G - gamma T) / sqrt(T gamma (1 - gamma)),      p = P(N(0, 1) >= z) = Phi(-z).

Under H0 (text written without the key) every distinct scored (context, token) pair is green with
probability ``gamma``, independently (:mod:`modelcollapse.guard.watermark`), so ``z`` is
approximately standard normal. ``p`` is the normal upper tail computed exactly
(``scipy.special.ndtr``, not a series approximation) and also in log space
(``scipy.special.log_ndtr``), so a strong watermark (``z = 40``, ``p ~ 1e-350``) still gets a
finite ``log10_p_value`` where ``p_value`` underflows to 0.

- ``ignore_repeated`` (the paper's "ignore repeated n-grams"): each distinct (context, token)
  pair is scored once. Repeats are not independent draws, so without this a repetitive human text
  ("and the ... and the ...") inflates ``z``.
- ``window=W`` (long texts; the "WinMax" idea of Kirchenbauer et al. 2024, "On the Reliability of
  Watermarks for Large Language Models", ICLR): the maximum ``z`` over every run of ``W``
  consecutive scored positions, so a short watermarked passage inside a long human text is found.
  The maximum of ``m`` tests is not a single test: the reported ``p_value_corrected`` is the
  Bonferroni bound ``min(1, m p)`` over the ``m = T - W + 1`` windows (valid, conservative since
  windows overlap). With ``ignore_repeated``, a pair counts once per window. All windows are
  counted in O(T) with difference arrays: a position contributes to a contiguous range of windows.

Text is turned into codes by a tokenizer that must match the generator's: :class:`WordTokenizer`
(our n-gram's words, hashed; the document start is the prefix), :class:`ByteTokenizer` (UTF-8
bytes, a fallback), a Hugging Face tokenizer, our :class:`TextTokenizer`, or a callable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import special

from modelcollapse.data.tokenize import tokenize
from modelcollapse.errors import DataError, InvalidParameterError
from modelcollapse.guard.watermark import (
    BOS_WORD_CODE,
    PAD_CODE,
    WatermarkConfig,
    as_codes,
    word_codes,
)

_LN10 = math.log(10.0)


@dataclass(frozen=True)
class Detection:
    """The result of one watermark test.

    ``z``, ``p_value`` (one-sided normal tail) and ``log10_p_value`` are those of the whole text,
    or of the best window when windowed; ``n_scored``/``n_green`` are the counts behind them.
    ``window`` is ``(start, end)``, token indices (end exclusive) of the best window, or None for
    the whole text; ``n_windows`` is how many windows were tested and the ``*_corrected`` values
    are Bonferroni-corrected over them (equal to the plain ones when ``n_windows == 1``). With no
    scored token ``z`` and the p-values are NaN.
    """

    z: float
    p_value: float
    log10_p_value: float
    n_scored: int
    n_green: int
    window: tuple[int, int] | None = None
    n_windows: int = 1
    p_value_corrected: float = math.nan
    log10_p_value_corrected: float = math.nan

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["window"] = None if self.window is None else list(self.window)
        return out


def z_score(n_green: Any, n_scored: Any, gamma: float) -> np.ndarray:
    """``(G - gamma T) / sqrt(T gamma (1 - gamma))``; NaN where ``T == 0``."""
    g = np.asarray(n_green, dtype=np.float64)
    t = np.asarray(n_scored, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t > 0, (g - gamma * t) / np.sqrt(t * gamma * (1.0 - gamma)), np.nan)


def normal_tail(z: float) -> tuple[float, float]:
    """``(P(N(0,1) >= z), log10 of it)``, exact to double precision for every finite ``z``."""
    if math.isnan(z):
        return math.nan, math.nan
    return float(special.ndtr(-z)), float(special.log_ndtr(-z)) / _LN10


# -- scoring -------------------------------------------------------------------------------------
def scored_pairs(
    token_ids: Any, h: int, prefix: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(contexts (T, h), tokens (T,), positions (T,))`` of the scored tokens.

    With ``prefix`` (e.g. ``[BOS]`` or the prompt), every token is scored and its context is taken
    from ``prefix + tokens`` left-padded with PAD, exactly as the samplers do; without it, only
    tokens with ``h`` tokens before them are. ``positions`` index ``token_ids``.
    """
    tokens = as_codes(token_ids)
    if tokens.ndim != 1:
        raise DataError(f"token_ids: expected a 1-D sequence, got shape {tokens.shape}")
    pre = np.zeros(0, np.uint64) if prefix is None else as_codes(prefix, name="prefix").ravel()
    seq = np.concatenate([np.full(h, PAD_CODE, dtype=np.uint64), pre, tokens])
    first = 0 if prefix is not None else min(h, tokens.size)
    positions = np.arange(first, tokens.size)
    at = positions + h + pre.size  # index of each scored token in seq
    ctx = np.stack([seq[at - h + j] for j in range(h)], axis=1).reshape(positions.size, h)
    return ctx, tokens[positions], positions


def previous_occurrence(ctx: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Index of the previous scored position with the same (context, token) pair, or -1."""
    n = tokens.size
    prev = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return prev
    rows = np.concatenate([ctx, tokens[:, None]], axis=1)
    _, group = np.unique(rows, axis=0, return_inverse=True)
    order = np.lexsort((np.arange(n), group.ravel()))  # by pair, then by position
    g = group.ravel()[order]
    same = g[1:] == g[:-1]
    prev[order[1:][same]] = order[:-1][same]
    return prev


def window_counts(green: np.ndarray, prev: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Scored and green counts of every window ``[a, a + width)`` of positions, a = 0..T-width.

    A position ``i`` counts in window ``a`` when it lies in it and its pair did not occur earlier
    in the same window (``prev[i] < a``; ``prev = -1`` counts everywhere): that is the range
    ``max(prev[i] + 1, i - width + 1, 0) <= a <= min(i, T - width)``, added with a difference array.
    """
    t = green.size
    m = t - width + 1
    i = np.arange(t)
    lo = np.maximum(np.maximum(prev + 1, i - width + 1), 0)
    hi = np.minimum(i, m - 1)
    ok = lo <= hi
    diff_n = np.zeros(m + 1, dtype=np.int64)
    diff_g = np.zeros(m + 1, dtype=np.int64)
    np.add.at(diff_n, lo[ok], 1)
    np.add.at(diff_n, hi[ok] + 1, -1)
    gok = ok & green
    np.add.at(diff_g, lo[gok], 1)
    np.add.at(diff_g, hi[gok] + 1, -1)
    return np.cumsum(diff_n)[:m], np.cumsum(diff_g)[:m]


def _result(
    cfg: WatermarkConfig,
    green: np.ndarray,
    prev: np.ndarray,
    positions: np.ndarray,
    window: int | None,
) -> Detection:
    t = green.size
    width = t if window is None or window >= t else window
    if t == 0:
        return Detection(math.nan, math.nan, math.nan, 0, 0, None, 1, math.nan, math.nan)
    n, g = window_counts(green, prev, width)
    z = z_score(g, n, cfg.gamma)
    best = int(np.nanargmax(z)) if np.isfinite(z).any() else 0
    zb = float(z[best])
    p, log10_p = normal_tail(zb)
    m = z.size
    p_corr = min(1.0, p * m) if not math.isnan(p) else math.nan
    log10_corr = min(0.0, log10_p + math.log10(m)) if not math.isnan(p) else math.nan
    span = None
    if window is not None:
        end = positions[best + width - 1] + 1
        span = (int(positions[best]), int(end))
    return Detection(zb, p, log10_p, int(n[best]), int(g[best]), span, m, p_corr, log10_corr)


def detect(
    token_ids: Any,
    cfg: WatermarkConfig,
    *,
    prefix: Any = None,
    ignore_repeated: bool = True,
    window: int | None = None,
) -> Detection:
    """Test a token sequence (ids or codes) for the watermark of ``cfg`` (see the module doc).

    ``prefix``: the ids before the text as the sampler saw them (BOS, the prompt); ``window``: the
    number of consecutive scored tokens per window, or None for the whole text.
    """
    if not isinstance(cfg, WatermarkConfig):
        raise InvalidParameterError(f"cfg: expected a WatermarkConfig, got {type(cfg).__name__}")
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1
    ):
        raise InvalidParameterError(f"window: expected None or an integer >= 1, got {window!r}")
    ctx, tokens, positions = scored_pairs(token_ids, cfg.context_width, prefix)
    green = cfg.is_green(ctx, tokens) if tokens.size else np.zeros(0, bool)
    prev = previous_occurrence(ctx, tokens) if ignore_repeated else np.full(tokens.size, -1)
    return _result(cfg, green, prev, positions, window)


def detect_documents(
    docs: Sequence[Any],
    cfg: WatermarkConfig,
    *,
    prefix: Any = None,
    ignore_repeated: bool = True,
) -> Detection:
    """One pooled test over several token sequences (each scored with its own ``prefix``).

    Use it for "was this batch of documents generated with the key?"; ``ignore_repeated``
    counts each (context, token) pair once across the whole batch.
    """
    parts = [scored_pairs(d, cfg.context_width, prefix) for d in docs]
    h = cfg.context_width
    ctx = np.concatenate([np.zeros((0, h), np.uint64), *(p[0] for p in parts)])
    tokens = np.concatenate([np.zeros(0, np.uint64), *(p[1] for p in parts)])
    green = cfg.is_green(ctx, tokens) if tokens.size else np.zeros(0, bool)
    prev = previous_occurrence(ctx, tokens) if ignore_repeated else np.full(tokens.size, -1)
    return _result(cfg, green, prev, np.arange(tokens.size), None)


# -- text ------------------------------------------------------------------------------------------
Encoded = tuple[np.ndarray | None, np.ndarray]  # (prefix codes or None, token codes)


@dataclass(frozen=True)
class WordTokenizer:
    """The n-gram generator's words (:func:`~modelcollapse.data.tokenize.tokenize`), hashed with
    :func:`word_codes`; the prefix is the document start ``<s>``, so every word is scored."""

    lowercase: bool = False

    def encode(self, text: str) -> Encoded:
        return np.array([BOS_WORD_CODE]), word_codes(tokenize(text, self.lowercase))


@dataclass(frozen=True)
class ByteTokenizer:
    """UTF-8 bytes as ids ``0..255`` (no prefix): a fallback for byte-level models."""

    def encode(self, text: str) -> Encoded:
        return None, np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)


def as_encoder(tokenizer: Any) -> Callable[[str], Encoded]:
    """``text -> (prefix, codes)`` for a tokenizer spec.

    ``"words"``, ``"lower:words"``, ``"bytes"``, a :class:`WordTokenizer`/:class:`ByteTokenizer`,
    a ``tokenizers.Tokenizer``, a ``transformers`` tokenizer (no special tokens added), our
    :class:`~modelcollapse.generators.text_tokenizer.TextTokenizer` (prefix ``<bos>``), or a
    callable ``text -> ids``.
    """
    named = {"words": WordTokenizer(), "lower:words": WordTokenizer(True), "bytes": ByteTokenizer()}
    if isinstance(tokenizer, str):
        if tokenizer not in named:
            raise InvalidParameterError(
                f"tokenizer: expected one of {', '.join(map(repr, named))} or a tokenizer "
                f"object, got {tokenizer!r}"
            )
        tokenizer = named[tokenizer]
    if isinstance(tokenizer, (WordTokenizer, ByteTokenizer)):
        return tokenizer.encode
    from modelcollapse.generators.text_tokenizer import BOS, TextTokenizer

    if isinstance(tokenizer, TextTokenizer):
        return lambda text: (np.array([BOS]), as_codes(tokenizer.encode([text])[0]))
    if hasattr(tokenizer, "encode_batch") and hasattr(tokenizer, "get_vocab_size"):
        return lambda text: (None, as_codes(tokenizer.encode(text, add_special_tokens=False).ids))
    if hasattr(tokenizer, "convert_tokens_to_ids"):  # a transformers tokenizer
        return lambda text: (None, as_codes(tokenizer.encode(text, add_special_tokens=False)))
    if callable(tokenizer):
        return lambda text: (None, as_codes(list(tokenizer(text))))
    raise InvalidParameterError(
        f"tokenizer: expected 'words', 'bytes', a tokenizer object or a callable, got "
        f"{type(tokenizer).__name__}"
    )


def detect_text(
    text: str,
    tokenizer: Any,
    cfg: WatermarkConfig,
    *,
    prefix: Any = None,
    ignore_repeated: bool = True,
    window: int | None = None,
) -> Detection:
    """:func:`detect` on ``text`` tokenized by ``tokenizer`` (see :func:`as_encoder`).

    ``prefix`` (ids) overrides the tokenizer's own (e.g. ``HuggingFaceLM._prefix()`` for BOS and
    the prompt of an hf generator).
    """
    if not isinstance(text, str):
        raise DataError(f"text: expected str, got {type(text).__name__}")
    own_prefix, codes = as_encoder(tokenizer)(text)
    return detect(
        codes,
        cfg,
        prefix=own_prefix if prefix is None else prefix,
        ignore_repeated=ignore_repeated,
        window=window,
    )


def watermark_decision(
    text: str, tokenizer: Any, cfg: WatermarkConfig, *, z_threshold: float = 4.0
) -> str | None:
    """A filter's decision: None (keep) or the drop reason when ``z > z_threshold``."""
    d = detect_text(text, tokenizer, cfg)
    if d.z > z_threshold:
        return (
            f"watermark: z={d.z:.2f} > {z_threshold} (log10 p={d.log10_p_value:.1f}, "
            f"{d.n_green}/{d.n_scored} green, key sha256:{cfg.fingerprint})"
        )
    return None
