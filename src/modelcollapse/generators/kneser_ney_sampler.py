"""Exact, vectorised sampling of ``p(w | h) ** (1 / T)`` from interpolated Kneser-Ney tables.

Sampling from a temperature-scaled n-gram model naively needs the full next-token distribution of
every context (``W`` values, thousands of them per step). Instead we use the model's structure.
Write ``r_k(w | h) = p_k(w | h) ** (1/T)`` over the outcomes other than ``<unk>`` (which is never
sampled) and ``A_k(h)`` for the outcomes seen after ``h`` at order ``k`` (one table segment). Since
``p_k(w | h) = gamma_k(h) p_{k-1}(w | h')`` for ``w`` outside ``A_k(h)``,

    Z_k(h) = sum_{w in A_k(h)} r_k(w | h)                                    ("in" mass)
           + gamma_k(h) ** (1/T) * (Z_{k-1}(h') - sum_{w in A_k(h)} r_{k-1}(w | h'))   ("out" mass)

with ``Z_0 = (W - 1) * W ** (-1/T)`` (uniform level). To draw from ``r_n(. | h) / Z_n(h)``: with
probability in/Z pick ``w`` in ``A_k(h)`` proportionally to ``r_k``; otherwise draw ``w`` from level
``k - 1`` and reject it while it lies in ``A_k(h)`` (a draw from the out part, restricted to the
complement). The expected number of level-``k - 1`` proposals is
``gamma^(1/T) Z_{k-1} / Z_k <= 1``, so the cost per token is ``O(n log N)`` whatever ``T`` is.
``Z_k``, the in/out split and the within-segment cumulative weights are precomputed once per
temperature for every context, in log space so that small ``T`` does not underflow.

Watermarking (:meth:`TemperatureSampler.draw_tilted`) draws from the tilted distribution
``q(w | h) ~ (p(w | h) e^{delta g(h, w)}) ** (1/T)`` (the green-list bias of Kirchenbauer et al.
2023, added to the logits before temperature) by rejection from the sampler above, testing only
the proposed token's colour, with an exact full-distribution fallback; see the method.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from modelcollapse.generators.kneser_ney import UNK, KneserNeyTables

# Bound on rejection rounds: exact arithmetic needs about one; only a rounding artefact (an out
# mass that should be zero but is ~1e-16) could loop, and then accepting the proposal is harmless.
_MAX_ROUNDS = 1000
# Rejection rounds of draw_tilted before the remaining rows are drawn from the full distribution.
TILT_ROUNDS = 32


def _segment_logsumexp(x: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-segment max and log-sum-exp of ``x`` (segments ``bounds[i]:bounds[i+1]``, non-empty)."""
    starts = bounds[:-1]
    peak = np.maximum.reduceat(x, starts)
    total = np.add.reduceat(np.exp(x - np.repeat(peak, np.diff(bounds))), starts)
    return peak, peak + np.log(total)


class TemperatureSampler:
    """Draw next tokens from ``p^(1/T)`` renormalised over every outcome except ``<unk>``."""

    def __init__(self, tables: KneserNeyTables, temperature: float):
        self.tables = tables
        self.temperature = float(temperature)
        inv_t = 1.0 / self.temperature
        w = tables.n_outcomes
        level0 = -np.log(w) * inv_t  # log r_0 of every outcome
        log_z_prev = np.array([np.log(w - 1) + level0])
        p_in, cum, cum_before, seg_sum, lo, hi, gkeys = [], [], [], [], [], [], []
        offset_entries, offset_ctx = 0, 0
        self.ctx_offset = np.zeros(tables.n + 1, dtype=np.int64)
        for k in range(1, tables.n + 1):
            bounds = tables.seg[k - 1]
            n_ctx = bounds.size - 1
            sizes = np.diff(bounds)
            scaled = tables.log_p[k - 1] * inv_t
            peak, log_in = _segment_logsumexp(scaled, bounds)
            weights = np.exp(scaled - np.repeat(peak, sizes))  # max 1 inside every segment
            if k == 1:
                lower = np.full(scaled.size, level0)
                suffix = np.zeros(n_ctx, dtype=np.int64)
            else:
                lower = tables.log_p[k - 2][tables.parent[k - 1]] * inv_t
                suffix = tables.ctx_keys[k - 1] // (w + 1)
            _, log_sub = _segment_logsumexp(lower, bounds)
            log_rest = log_z_prev[suffix]
            with np.errstate(divide="ignore", invalid="ignore"):
                gap = np.where(
                    (log_sub < log_rest) & (sizes < w - 1),
                    log_rest + np.log1p(-np.exp(log_sub - log_rest)),
                    -np.inf,
                )
            log_out = tables.log_gamma[k - 1] * inv_t + gap
            log_z = np.logaddexp(log_in, log_out)
            p_in.append(np.exp(log_in - log_z))
            c = np.cumsum(weights)
            before = np.concatenate([[0.0], c])[bounds[:-1]]
            cum.append(c + (cum[-1][-1] if cum else 0.0))
            cum_before.append(before + (cum[-2][-1] if len(cum) > 1 else 0.0))
            seg_sum.append(np.add.reduceat(weights, bounds[:-1]))
            lo.append(bounds[:-1] + offset_entries)
            hi.append(bounds[1:] + offset_entries)
            # global key (global context id, outcome): sorted across orders because contexts are
            # numbered order by order
            gkeys.append(tables.keys[k - 1] + offset_ctx * w)
            offset_entries += scaled.size
            offset_ctx += n_ctx
            self.ctx_offset[k] = offset_ctx
            log_z_prev = log_z
        self.p_in = np.concatenate(p_in)
        self.cum = np.concatenate(cum)
        self.cum_before = np.concatenate(cum_before)
        self.seg_sum = np.concatenate(seg_sum)
        self.lo, self.hi = np.concatenate(lo), np.concatenate(hi)
        self.gkeys = np.concatenate(gkeys)

    def _global_ids(self, ctx_ids: np.ndarray) -> np.ndarray:
        """Per-order context ids -> ids into the concatenated tables (-1 stays -1)."""
        return np.where(ctx_ids >= 0, ctx_ids + self.ctx_offset[:-1], -1)

    def _descend(
        self, gid: np.ndarray, level: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """One unrestricted proposal per row starting at ``level``: returns (token, origin level)."""
        m = level.size
        token = np.empty(m, dtype=np.int64)
        origin = level.copy()
        todo = np.arange(m)
        w = self.tables.n_outcomes
        while todo.size:
            lv = origin[todo]
            at_zero = lv == 0
            if at_zero.any():
                rows = todo[at_zero]
                token[rows] = rng.integers(1, w, size=rows.size)  # uniform over non-<unk>
                todo, lv = todo[~at_zero], lv[~at_zero]
                if not todo.size:
                    break
            g = gid[todo, lv - 1]
            u = rng.random((todo.size, 2))
            take = u[:, 0] < self.p_in[g]
            rows, gt = todo[take], g[take]
            target = self.cum_before[gt] + u[take, 1] * self.seg_sum[gt]
            idx = np.searchsorted(self.cum, target, side="right")
            idx = np.clip(idx, self.lo[gt], self.hi[gt] - 1)
            token[rows] = self.gkeys[idx] % w
            origin[todo[~take]] -= 1
            todo = todo[~take]
        return token, origin

    def draw(self, ctx_ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One next token per row of ``KneserNeyTables.context_ids`` output (m, n)."""
        gid = self._global_ids(ctx_ids)
        n = self.tables.n
        w = self.tables.n_outcomes
        top = (ctx_ids >= 0).sum(axis=1)  # the deepest seen context; higher orders add nothing
        out = np.empty(ctx_ids.shape[0], dtype=np.int64)
        todo = np.arange(ctx_ids.shape[0])
        start = top.copy()
        levels = np.arange(1, n + 1)
        for round_ in range(_MAX_ROUNDS):
            token, origin = self._descend(gid[todo], start[todo], rng)
            # a proposal that came out of level o must avoid A_l(h) for every l in (o, top]
            check = (levels > origin[:, None]) & (levels <= top[todo][:, None])
            g = gid[todo]
            keys = np.maximum(g, 0) * w + token[:, None]
            idx = np.minimum(np.searchsorted(self.gkeys, keys), self.gkeys.size - 1)
            hit = check & (self.gkeys[idx] == keys)
            failed = hit.any(axis=1)
            if round_ == _MAX_ROUNDS - 1:
                failed[:] = False
            out[todo[~failed]] = token[~failed]
            # redraw from just below the lowest level that rejected the proposal
            start[todo[failed]] = np.argmax(hit[failed], axis=1)
            todo = todo[failed]
            if not todo.size:
                break
        return out

    def draw_tilted(
        self,
        ctx_ids: np.ndarray,
        rng: np.random.Generator,
        *,
        is_green: Callable[[np.ndarray, np.ndarray], np.ndarray],
        green_mask: Callable[[np.ndarray], np.ndarray],
        delta: float,
        max_rounds: int | None = None,
    ) -> np.ndarray:
        """One next token per row from ``q(w | h) ~ r(w | h) * exp(b * g(h, w))``, ``b = delta/T``.

        ``r = p ** (1/T)`` is what :meth:`draw` samples; ``is_green(rows, tokens)`` gives ``g`` for
        one proposed token per row and ``green_mask(rows)`` the (len(rows), W) mask. Rejection
        sampling with envelope ``e^b r``: a proposal ``w ~ r`` is accepted with probability
        ``e^{b (g(w) - 1)}`` (always when green), so accepted draws follow ``q`` exactly and a
        row needs at most ``e^b`` proposals on average (``1 / (P_r(G) + (1 - P_r(G)) e^{-b})``).
        Rows still rejected after ``max_rounds`` (default ``TILT_ROUNDS``; large ``b`` with a
        red-dominated context) are drawn from ``q`` itself, computed over every outcome; whatever
        happened in the earlier rounds, that draw follows ``q``, so every row's token does.
        """
        b = float(delta) / self.temperature
        rounds = TILT_ROUNDS if max_rounds is None else max_rounds
        out = np.empty(ctx_ids.shape[0], dtype=np.int64)
        todo = np.arange(ctx_ids.shape[0])
        for _ in range(rounds):
            if not todo.size:
                return out
            token = self.draw(ctx_ids[todo], rng)
            green = is_green(todo, token)
            accept = green | (rng.random(todo.size) < np.exp(-b))
            out[todo[accept]] = token[accept]
            todo = todo[~accept]
        for start in range(0, todo.size, 64):  # bounded memory: 64 rows x W outcomes at a time
            rows = todo[start : start + 64]
            out[rows] = self._draw_exact(ctx_ids[rows], green_mask(rows), b, rng)
        return out

    def _draw_exact(
        self, ctx_ids: np.ndarray, green: np.ndarray, b: float, rng: np.random.Generator
    ) -> np.ndarray:
        """Gumbel-max draws from ``p^(1/T) e^{b g}`` over every outcome but ``<unk>`` (m, W)."""
        w = self.tables.n_outcomes
        m = ctx_ids.shape[0]
        log_p = self.tables.log_prob_next(np.repeat(ctx_ids, w, axis=0), np.tile(np.arange(w), m))
        logits = log_p.reshape(m, w) / self.temperature + b * green
        logits[:, UNK] = -np.inf
        return np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
