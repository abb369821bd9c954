"""Count tables and probabilities of an interpolated modified Kneser-Ney n-gram model.

Token ids: ``0 = <unk>``, ``1 = </s>``, ``2 .. W-1`` = the word types, so the ``W`` *outcomes* (what
the model predicts) are the words, ``</s>`` and ``<unk>``. ``<s> = W`` is a context-only symbol:
each document is padded with ``n - 1`` of them and is never predicted.

Model (Chen & Goodman 1999, "An empirical study of smoothing techniques for language modeling",
Computer Speech & Language 13, eqs. 17-19 and 26; interpolated, three discounts per order):

    p_k(w | h) = max(c_k(h w) - D_k(c_k(h w)), 0) / c_k(h .) + gamma_k(h) p_{k-1}(w | h')
    gamma_k(h) = (D_k1 N1(h .) + D_k2 N2(h .) + D_k3+ N3+(h .)) / c_k(h .)
    p_0(w) = 1 / W      (uniform over the outcomes, so unseen words keep a finite probability)

where ``h'`` drops the first token of ``h``, ``c_k(h .) = sum_w c_k(h w)`` and ``Nr(h .)`` counts the
outcomes ``w`` with ``c_k(h w) = r``. When ``h`` never occurred (``c_k(h .) = 0``) the order is
skipped: ``p_k(w | h) = p_{k-1}(w | h')``. The counts ``c_k`` are the *adjusted* counts of KenLM
(Heafield et al. 2013, "Scalable modified Kneser-Ney language model estimation", ACL): the raw
count at the highest order and for n-grams that start with ``<s>`` (they cannot be extended to the
left); otherwise the number of distinct tokens seen immediately to the left (continuation count).

Discounts, per order, from the count-of-counts ``n1..n4`` of the adjusted counts:
``Y = n1 / (n1 + 2 n2)``, ``D1 = 1 - 2Y n2/n1``, ``D2 = 2 - 3Y n3/n2``, ``D3+ = 3 - 4Y n4/n3``. On small
corpora these are undefined or out of range; then the whole order uses KenLM's documented
``--discount_fallback`` values ``(0.5, 1.0, 1.5)``. We require ``0 < D_r <= r`` (KenLM allows 0) so
that every order keeps mass for lower orders and ``<unk>`` always has positive probability.

Storage: contexts (token sequences of length ``j``) get ids by extending to the *left*: the id of
``t_1 .. t_j`` is the rank of the key ``id(t_2 .. t_j) * (W + 1) + t_1`` in the sorted array
``ctx_keys[j]``, so the suffix context is ``key // (W + 1)``. The order-``k`` table holds the sorted
keys ``context_id * W + w`` with their adjusted counts; each context's continuations form one
contiguous segment. Everything else (discounts, probabilities) is derived from these arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from modelcollapse.errors import DataError

UNK, EOS = 0, 1
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # KenLM lmplz --discount_fallback defaults


def modified_kn_discounts(counts: np.ndarray) -> np.ndarray:
    """``(D1, D2, D3+)`` from the count-of-counts of one order's adjusted counts (see module doc)."""
    n1, n2, n3, n4 = np.bincount(np.minimum(counts, 5), minlength=6)[1:5].astype(np.float64)
    if n1 > 0 and n2 > 0 and n3 > 0:
        y = n1 / (n1 + 2 * n2)
        d = np.array([1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3])
        if np.all(d > 0) and np.all(d <= [1.0, 2.0, 3.0]):
            return d
    return np.array(FALLBACK_DISCOUNTS)


def layout(lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the padded corpus: ``(n-1)`` ``<s>`` slots, the tokens, then ``</s>`` per doc.

    Returns ``(pred_pos, is_token)``: the index of every predicted slot (tokens and ``</s>``) and
    whether that slot holds a token (else ``</s>``).
    """
    m = lengths + 1
    span = m + (n - 1)
    starts = np.concatenate([[0], np.cumsum(span)[:-1]]).astype(np.int64)
    first = np.repeat(starts + (n - 1) - (np.cumsum(m) - m), m)
    pred_pos = first + np.arange(int(m.sum()), dtype=np.int64)
    is_token = (pred_pos - np.repeat(starts + (n - 1), m)) < np.repeat(lengths, m)
    return pred_pos, is_token


def padded_sequence(
    tokens: np.ndarray, lengths: np.ndarray, n: int, bos: int
) -> tuple[np.ndarray, np.ndarray]:
    """The padded id sequence and its predicted positions (see ``layout``)."""
    pred_pos, is_token = layout(lengths, n)
    total = int(lengths.sum() + lengths.size * n)
    seq = np.full(total, bos, dtype=np.int64)
    values = np.full(pred_pos.size, EOS, dtype=np.int64)
    values[is_token] = tokens
    seq[pred_pos] = values
    return seq, pred_pos


def _lookup(table: np.ndarray, keys: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Index of each key in the sorted ``table``, or -1 where absent or not ``valid``."""
    if table.size == 0:
        return np.full(keys.shape, -1, dtype=np.int64)
    idx = np.minimum(np.searchsorted(table, keys), table.size - 1)
    return np.where(valid & (table[idx] == keys), idx, -1)


@dataclass
class KneserNeyTables:
    """Adjusted-count tables of orders ``1..n`` plus everything derived from them.

    ``ctx_keys[j]`` (``j = 1..n-1``; ``ctx_keys[0]`` is empty) define context ids of length ``j``;
    ``keys[k-1]``/``counts[k-1]`` are the order-``k`` table (sorted keys ``ctx_id * W + w``).
    """

    n: int
    n_outcomes: int
    ctx_keys: list[np.ndarray]
    keys: list[np.ndarray]
    counts: list[np.ndarray]
    discounts: np.ndarray = field(init=False)  # (n, 3)
    seg: list[np.ndarray] = field(init=False)  # per order: segment bounds per context (C + 1,)
    log_gamma: list[np.ndarray] = field(init=False)  # per order: log gamma per context
    log_p: list[np.ndarray] = field(init=False)  # per order: log p_k(w | h) per table entry
    parent: list[np.ndarray] = field(init=False)  # per order k >= 2: entry of (h', w) at k - 1

    @property
    def bos(self) -> int:
        return self.n_outcomes

    def __post_init__(self) -> None:
        n, w = self.n, self.n_outcomes
        if len(self.ctx_keys) != n or len(self.keys) != n or len(self.counts) != n:
            raise DataError(f"n-gram state: expected tables for {n} orders")
        discounts, seg, log_gamma, log_p, parent = [], [], [], [], []
        prev_p = None
        for k in range(1, n + 1):
            keys, counts = self.keys[k - 1], self.counts[k - 1]
            n_ctx = 1 if k == 1 else self.ctx_keys[k - 1].size
            ctx = keys // w
            # Every context has at least one continuation and keys are sorted: a corrupt state
            # would otherwise give silently wrong probabilities.
            ok = keys.size > 0 and counts.shape == keys.shape and np.all(counts >= 1)
            ok = ok and np.all(np.diff(keys) > 0) and ctx[0] == 0 and ctx[-1] == n_ctx - 1
            ok = ok and np.all(np.diff(ctx) <= 1)
            if not ok:
                raise DataError(f"n-gram state: order-{k} table is not a valid sorted count table")
            bounds = np.searchsorted(ctx, np.arange(n_ctx + 1))
            d = modified_kn_discounts(counts)
            per_entry = d[np.minimum(counts, 3) - 1]
            total = np.add.reduceat(counts, bounds[:-1]).astype(np.float64)
            gamma = np.add.reduceat(per_entry, bounds[:-1]) / total
            alpha = np.maximum(counts - per_entry, 0.0) / total[ctx]
            if k == 1:
                lower = np.full(keys.size, 1.0 / w)
                parent.append(np.empty(0, dtype=np.int64))
            else:
                suffix = self.ctx_keys[k - 1][ctx] // (w + 1)
                par = _lookup(self.keys[k - 2], suffix * w + keys % w, np.ones(keys.size, bool))
                if np.any(par < 0):
                    raise DataError(
                        f"n-gram state: order-{k} n-gram without its order-{k - 1} suffix"
                    )
                lower = np.exp(prev_p[par])
                parent.append(par)
            prev_p = np.log(alpha + gamma[ctx] * lower)
            discounts.append(d)
            seg.append(bounds)
            log_gamma.append(np.log(gamma))
            log_p.append(prev_p)
        self.discounts = np.array(discounts)
        self.seg, self.log_gamma, self.log_p, self.parent = seg, log_gamma, log_p, parent

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def from_corpus(
        cls, tokens: np.ndarray, lengths: np.ndarray, n: int, n_outcomes: int
    ) -> KneserNeyTables:
        """Count every n-gram of orders ``1..n`` in the padded documents.

        ``tokens``: the concatenated word ids (in ``2..W-1``); ``lengths``: tokens per document.
        """
        w, bos = n_outcomes, n_outcomes
        seq, pos = padded_sequence(tokens, lengths, n, bos)
        target = seq[pos]
        ctx = np.zeros(pos.size, dtype=np.int64)
        ctx_keys: list[np.ndarray] = [np.empty(0, dtype=np.int64)]
        ctx_by_len = [ctx]
        for j in range(1, n):
            uniq, ctx = np.unique(ctx * (w + 1) + seq[pos - j], return_inverse=True)
            ctx_keys.append(uniq)
            ctx_by_len.append(ctx.ravel())
        keys, raw, inverse, first = [], [], [], []
        for k in range(1, n + 1):
            uniq, idx, inv, cnt = np.unique(
                ctx_by_len[k - 1] * w + target,
                return_index=True,
                return_inverse=True,
                return_counts=True,
            )
            keys.append(uniq)
            first.append(idx)
            inverse.append(inv.ravel())
            raw.append(cnt.astype(np.int64))
        counts = []
        for k in range(1, n + 1):
            if k == n:
                counts.append(raw[k - 1])
                continue
            # distinct left extensions: each distinct (k+1)-gram maps to its order-k suffix
            cont = np.bincount(inverse[k - 1][first[k]], minlength=keys[k - 1].size)
            if k == 1:
                counts.append(cont.astype(np.int64))
            else:
                starts_with_bos = seq[pos[first[k - 1]] - (k - 1)] == bos
                counts.append(np.where(starts_with_bos, raw[k - 1], cont).astype(np.int64))
        return cls(n=n, n_outcomes=n_outcomes, ctx_keys=ctx_keys, keys=keys, counts=counts)

    # -- queries ----------------------------------------------------------------------------
    def context_ids(self, history: np.ndarray) -> np.ndarray:
        """Context ids of every suffix length of ``history`` (m, n-1) -> (m, n); -1 = unseen.

        Column ``j`` is the id of the last ``j`` tokens of each row (column 0 is the empty context).
        """
        m = history.shape[0]
        out = np.empty((m, self.n), dtype=np.int64)
        out[:, 0] = 0
        for j in range(1, self.n):
            prev = out[:, j - 1]
            key = np.maximum(prev, 0) * (self.n_outcomes + 1) + history[:, self.n - 1 - j]
            out[:, j] = _lookup(self.ctx_keys[j], key, prev >= 0)
        return out

    def log_prob_next(self, ctx_ids: np.ndarray, outcome: np.ndarray) -> np.ndarray:
        """``log p_n(outcome | context)`` in nats for rows of ``context_ids`` output.

        Uses ``p_k(w|h) = gamma_k(h) p_{k-1}(w|h')`` when ``(h, w)`` is not in the order-``k`` table
        and the stored ``log_p`` when it is, which is the formula above evaluated exactly.
        """
        w = self.n_outcomes
        value = np.full(outcome.shape, -np.log(w))
        for k in range(1, self.n + 1):
            c = ctx_ids[:, k - 1]
            seen = c >= 0
            safe = np.maximum(c, 0)
            idx = _lookup(self.keys[k - 1], safe * w + outcome, seen)
            backed_off = np.where(seen, self.log_gamma[k - 1][safe] + value, value)
            value = np.where(idx >= 0, self.log_p[k - 1][np.maximum(idx, 0)], backed_off)
        return value

    def state(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for j in range(1, self.n):
            out[f"ctx_keys_{j}"] = self.ctx_keys[j].copy()
        for k in range(1, self.n + 1):
            out[f"ngram_keys_{k}"] = self.keys[k - 1].copy()
            out[f"ngram_counts_{k}"] = self.counts[k - 1].copy()
        return out

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], n: int, n_outcomes: int) -> KneserNeyTables:
        names = [f"ctx_keys_{j}" for j in range(1, n)]
        names += [f"ngram_{part}_{k}" for k in range(1, n + 1) for part in ("keys", "counts")]
        missing = [name for name in names if name not in state]
        if missing:
            raise DataError(f"n-gram state: expected keys {names}, missing {missing}")
        arrays = {name: np.asarray(state[name]) for name in names}
        bad = [name for name, a in arrays.items() if a.ndim != 1 or a.dtype.kind not in "iu"]
        if bad:
            raise DataError(f"n-gram state: expected 1-D integer arrays, got {bad}")
        arrays = {name: a.astype(np.int64) for name, a in arrays.items()}
        ctx_keys = [np.empty(0, dtype=np.int64)] + [arrays[f"ctx_keys_{j}"] for j in range(1, n)]
        for j in range(1, n):
            ck = ctx_keys[j]
            n_prev = 1 if j == 1 else ctx_keys[j - 1].size
            if ck.size and (
                np.any(np.diff(ck) <= 0) or ck[0] < 0 or ck[-1] // (n_outcomes + 1) >= n_prev
            ):
                raise DataError(f"n-gram state: ctx_keys_{j} is not a valid sorted context table")
        keys = [arrays[f"ngram_keys_{k}"] for k in range(1, n + 1)]
        counts = [arrays[f"ngram_counts_{k}"] for k in range(1, n + 1)]
        return cls(n=n, n_outcomes=n_outcomes, ctx_keys=ctx_keys, keys=keys, counts=counts)
