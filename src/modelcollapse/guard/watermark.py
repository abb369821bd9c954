"""Green-list watermark (Kirchenbauer et al. 2023, "A Watermark for Large Language Models", ICML).

**Definition.** Tokens are 64-bit *codes*: a model's token id, or (for our word-level n-gram
model) a fixed hash of the word string, :func:`word_codes`. Given a secret key, the *context* of a
position is the ``h = context_width`` codes before it. Every (context, token) pair is **green**
with probability ``gamma``, decided by a keyed pseudorandom function:

    seed(c_1..c_h) = s_h,  s_0 = k0,  s_j = mix(s_{j-1} XOR mix(c_j * phi + k2))      ("mix64")
    green(c, t)   <=>  mix(seed(c) XOR mix(t * phi + k1))  <  floor(gamma * 2**64)

where ``mix`` is splitmix64's finaliser (a bijection of uint64 with full avalanche; Steele, Lea &
Flood 2014), ``phi`` the 64-bit golden ratio and ``k0, k1, k2`` come from ``SHA-256`` of the key.
With ``seeding="hmac-sha256"`` the seed is instead the first 8 bytes of
``HMAC-SHA256(key, c_1..c_h)`` (a cryptographic PRF, computed once per distinct context, so still
fast for detection); the green test is the same.

**Embedding** adds ``delta`` to the logits of the green tokens before temperature and top-k/top-p
(the order of the paper and of ``transformers``): ``p'(t | c) ~ p(t | c) e^{delta * green(c, t)}``.
:meth:`WatermarkConfig.bias_logits` (numpy), :func:`apply_watermark` (torch, for any sampling
loop) and ``KirchenbauerLogitsProcessor`` (a ``transformers`` LogitsProcessor) are the same
function; the n-gram sampler draws from the same tilted distribution by rejection
(:meth:`~modelcollapse.generators.kneser_ney_sampler.TemperatureSampler.draw_tilted`).

**Which green list.** The paper's reference code draws a random permutation of the vocabulary per
context and takes its first ``gamma |V|`` entries, so ``|G| = gamma |V|`` exactly. We decide each
(context, token) pair independently, so ``|G| ~ Binomial(|V|, gamma)`` (sd ``0.4%`` of ``|V|``
for ``|V| = 50k``). Why: membership of one token costs O(1) (two hashes) instead of a
``randperm(|V|)`` per token, which is what makes detection vectorised (``benchmarks/watermark.py``)
and lets the n-gram sampler test only the token it proposed. The detector's null is the same for
both: a text written without the key has each scored (context, token) pair green with probability
exactly ``gamma``, independently across distinct pairs, so ``z`` is standard normal under H0.

**Contexts shorter than h** (the first tokens after BOS) are padded on the left with
:data:`PAD_CODE`; in integer id arrays ``-1`` stands for it. Samplers take the context from
``prefix + generated tokens`` (the prefix is BOS and the prompt); detectors given the same prefix
score every token, without it only tokens with ``h`` tokens before them.

**Keys** come from a file or an environment variable (:func:`load_key`), never from a config
value: a generator's ``watermark`` hyperparameter holds ``{key_env: NAME}`` or
``{key_file: PATH}`` plus gamma/delta/context_width/seeding, and the key is read when sampling,
so run directories and logs never contain it. ``repr`` shows a SHA-256 fingerprint only. The
``mix64`` seeding is a statistical PRF, not a cryptographic one: use ``hmac-sha256`` when an
adversary may query the detector many times.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelcollapse.errors import DataError, InvalidParameterError

if TYPE_CHECKING:  # pragma: no cover
    import torch

SEEDINGS = ("mix64", "hmac-sha256")
MIN_KEY_BYTES = 16
PAD_CODE = np.uint64(2**64 - 1)  # "no token": left padding of contexts shorter than h
SPEC_KEYS = ("key_env", "key_file", "gamma", "delta", "context_width", "seeding")

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_PHI = np.uint64(0x9E3779B97F4A7C15)
_DOMAIN = b"modelcollapse.watermark.v1\x00"
_WORD_PERSON = b"mc.wm.word"


def mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser applied elementwise to a uint64 array (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def as_codes(ids: Any, *, name: str = "token_ids") -> np.ndarray:
    """Token ids or codes as a uint64 array; ``-1`` becomes :data:`PAD_CODE`.

    Accepts any integer array-like (torch tensors through ``numpy()``). Other negative values,
    floats and non-integers raise DataError.
    """
    if hasattr(ids, "detach"):  # a torch tensor
        ids = ids.detach().cpu().numpy()
    arr = np.asarray(ids)
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.uint64)
    if arr.dtype.kind == "u":
        return arr.astype(np.uint64)
    if arr.dtype.kind != "i":
        raise DataError(f"{name}: expected integer token ids, got dtype {arr.dtype}")
    if arr.min() < -1:
        raise DataError(f"{name}: expected ids >= 0 (or -1 for padding), got {int(arr.min())}")
    out = arr.astype(np.int64).astype(np.uint64)  # -1 wraps to 2**64 - 1 == PAD_CODE
    return out


def word_codes(words: Sequence[str]) -> np.ndarray:
    """The code of each word string: 8 bytes of BLAKE2b (unkeyed; the key enters in the seed).

    Hashing the string rather than using a vocabulary index makes the watermark of a word-level
    model independent of its vocabulary, which changes every generation when it is refitted, so
    text can be checked with the tokenizer alone.
    """
    cache: dict[str, int] = {}
    out = np.empty(len(words), dtype=np.uint64)
    for i, w in enumerate(words):
        code = cache.get(w)
        if code is None:
            digest = hashlib.blake2b(
                w.encode("utf-8", "surrogatepass"), digest_size=8, person=_WORD_PERSON
            ).digest()
            code = cache[w] = int.from_bytes(digest, "little")
        out[i] = code
    return out


BOS_WORD_CODE = word_codes(["<s>"])[0]  # the word tokenizer never yields "<s>" (see tokenize)


def last_context(ids: Any, h: int) -> np.ndarray:
    """The last ``h`` codes of each row of ``ids`` (B, L) as (B, h), left-padded with PAD."""
    codes = as_codes(ids, name="context_ids")
    if codes.ndim != 2:
        raise DataError(f"context_ids: expected a 2-D array (batch, length), got {codes.shape}")
    b, length = codes.shape
    if length >= h:
        return np.ascontiguousarray(codes[:, length - h :])
    out = np.full((b, h), PAD_CODE, dtype=np.uint64)
    out[:, h - length :] = codes
    return out


class WatermarkConfig:
    """A secret key and the watermark's parameters; computes green lists.

    Args:
        key: the secret, at least 16 bytes (use :func:`load_key`).
        gamma: the green fraction, in (0, 1). delta: the logit bias (>= 0).
        context_width: ``h``, how many previous tokens seed the green list (>= 1).
        seeding: ``"mix64"`` (fast keyed integer hash) or ``"hmac-sha256"``.

    Context arguments are id arrays (B, L) of any length L: the last ``h`` columns are used and
    shorter rows are padded (see :func:`last_context`), so a sampler may pass all ids so far.
    """

    __slots__ = ("_k", "_key", "_mix_cache", "context_width", "delta", "gamma", "seeding")

    def __init__(
        self,
        key: bytes,
        *,
        gamma: float = 0.25,
        delta: float = 2.0,
        context_width: int = 1,
        seeding: str = "mix64",
    ):
        if not isinstance(key, (bytes, bytearray)) or len(key) < MIN_KEY_BYTES:
            got = f"{len(key)} bytes" if isinstance(key, (bytes, bytearray)) else type(key).__name__
            raise InvalidParameterError(
                f"watermark key: expected at least {MIN_KEY_BYTES} bytes "
                f"(e.g. python -c 'import secrets; print(secrets.token_hex(32))'), got {got}"
            )
        ok = isinstance(gamma, (int, float, np.number)) and not isinstance(gamma, bool)
        if not ok or not 0.0 < float(gamma) < 1.0:
            raise InvalidParameterError(f"gamma: expected a number in (0, 1), got {gamma!r}")
        ok = isinstance(delta, (int, float, np.number)) and not isinstance(delta, bool)
        if not ok or not (np.isfinite(float(delta)) and float(delta) >= 0.0):
            raise InvalidParameterError(f"delta: expected a finite number >= 0, got {delta!r}")
        if isinstance(context_width, bool) or not isinstance(context_width, (int, np.integer)):
            raise InvalidParameterError(
                f"context_width: expected an integer >= 1, got {context_width!r}"
            )
        if context_width < 1:
            raise InvalidParameterError(
                f"context_width: expected an integer >= 1, got {context_width!r}"
            )
        if seeding not in SEEDINGS:
            raise InvalidParameterError(
                f"seeding: expected one of {', '.join(map(repr, SEEDINGS))}, got {seeding!r}"
            )
        self._key = bytes(key)
        digest = hashlib.sha256(_DOMAIN + self._key).digest()
        self._k = np.frombuffer(digest[:24], dtype="<u8").astype(np.uint64)  # k0, k1, k2
        self._mix_cache: dict[int, np.ndarray] = {}
        self.gamma = float(gamma)
        self.delta = float(delta)
        self.context_width = int(context_width)
        self.seeding = str(seeding)

    # -- identity (never the key itself) ---------------------------------------------------
    @property
    def key(self) -> bytes:
        return self._key

    @property
    def fingerprint(self) -> str:
        """The first 12 hex digits of SHA-256(key): names the key without revealing it."""
        return hashlib.sha256(self._key).hexdigest()[:12]

    @property
    def threshold(self) -> np.uint64:
        """``floor(gamma * 2**64)``: a pair is green when its 64-bit hash is below this."""
        return np.uint64(min(int(self.gamma * 2.0**64), 2**64 - 1))

    def public_params(self) -> dict[str, Any]:
        """Everything but the key (safe to log or write next to results)."""
        return {
            "key_sha256": self.fingerprint,
            "gamma": self.gamma,
            "delta": self.delta,
            "context_width": self.context_width,
            "seeding": self.seeding,
        }

    def __repr__(self) -> str:
        return (
            f"WatermarkConfig(key=<redacted sha256:{self.fingerprint}>, gamma={self.gamma}, "
            f"delta={self.delta}, context_width={self.context_width}, seeding={self.seeding!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WatermarkConfig):
            return NotImplemented
        mine = (self.gamma, self.delta, self.context_width, self.seeding)
        theirs = (other.gamma, other.delta, other.context_width, other.seeding)
        return mine == theirs and hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash((self.fingerprint, self.gamma, self.delta, self.context_width, self.seeding))

    def __getstate__(self) -> dict[str, Any]:  # pickling for worker pools; never written to disk
        return {"key": self._key, **{k: getattr(self, k) for k in SPEC_KEYS[2:]}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        key = state.pop("key")
        self.__init__(key, **state)  # type: ignore[misc]

    # -- the pseudorandom function ----------------------------------------------------------
    def token_mix(self, codes: Any) -> np.ndarray:
        """``mix(t * phi + k1)`` per token code; cached for ``arange(V)``."""
        if isinstance(codes, (int, np.integer)):
            v = int(codes)
            if v not in self._mix_cache:
                with np.errstate(over="ignore"):
                    self._mix_cache[v] = mix64(np.arange(v, dtype=np.uint64) * _PHI + self._k[1])
            return self._mix_cache[v]
        with np.errstate(over="ignore"):
            return mix64(as_codes(codes) * _PHI + self._k[1])

    def seeds(self, context_ids: Any) -> np.ndarray:
        """The green-list seed of each row's context (B,) uint64."""
        ctx = last_context(context_ids, self.context_width)
        if self.seeding == "mix64":
            s = np.full(ctx.shape[0], self._k[0], dtype=np.uint64)
            with np.errstate(over="ignore"):
                for j in range(ctx.shape[1]):
                    s = mix64(s ^ mix64(ctx[:, j] * _PHI + self._k[2]))
            return s
        # HMAC once per distinct context: detection texts repeat contexts, samplers batch them
        uniq, inverse = np.unique(ctx, axis=0, return_inverse=True)
        le = uniq.astype("<u8")
        seeds = np.fromiter(
            (
                int.from_bytes(hmac.digest(self._key, row.tobytes(), "sha256")[:8], "little")
                for row in le
            ),
            dtype=np.uint64,
            count=uniq.shape[0],
        )
        return seeds[inverse.ravel()]

    def is_green(self, context_ids: Any, token_ids: Any) -> np.ndarray:
        """Whether ``token_ids[i]`` is green after ``context_ids[i]``: bool (B,)."""
        tokens = as_codes(token_ids).ravel()
        s = self.seeds(context_ids)
        if s.shape != tokens.shape:
            raise DataError(
                f"token_ids: expected one token per context row ({s.size}), got {tokens.size}"
            )
        return mix64(s ^ self.token_mix(tokens)) < self.threshold

    def green_mask(self, context_ids: Any, vocab: int | Any) -> np.ndarray:
        """Bool (B, V): green tokens after each context. ``vocab``: a size (codes ``0..V-1``)
        or an array of token codes (e.g. :func:`word_codes` of a vocabulary)."""
        s = self.seeds(context_ids)
        t = self.token_mix(vocab)
        return mix64(s[:, None] ^ t[None, :]) < self.threshold

    def bias_logits(self, logits: np.ndarray, context_ids: Any) -> np.ndarray:
        """``logits + delta * green_mask`` for logits (B, V), a new float array."""
        logits = np.asarray(logits)
        if logits.ndim != 2:
            raise DataError(f"logits: expected a 2-D array (batch, vocab), got {logits.shape}")
        mask = self.green_mask(context_ids, logits.shape[1])
        return logits + self.delta * mask


# -- keys and generator specs -------------------------------------------------------------------
def load_key(key_file: str | Path | None = None, key_env: str | None = None) -> bytes:
    """The watermark key from a file (its bytes, one trailing newline removed) or from an
    environment variable (its value, UTF-8). Exactly one source must be given."""
    if (key_file is None) == (key_env is None):
        raise InvalidParameterError(
            "watermark key: expected exactly one of key_file or key_env, got "
            f"{'both' if key_file is not None else 'neither'}"
        )
    if key_env is not None:
        if not isinstance(key_env, str) or not key_env:
            raise InvalidParameterError(f"key_env: expected a variable name, got {key_env!r}")
        value = os.environ.get(key_env)
        if value is None:
            raise InvalidParameterError(
                f"key_env: expected environment variable {key_env!r} to hold the watermark key, "
                "but it is not set"
            )
        key = value.encode("utf-8", "surrogatepass")
        where = f"environment variable {key_env!r}"
    else:
        path = Path(key_file)  # type: ignore[arg-type]
        try:
            key = path.read_bytes()
        except OSError as exc:
            raise DataError(
                f"cannot read the watermark key file ({exc.strerror})", path=str(path)
            ) from None
        key = key.removesuffix(b"\n").removesuffix(b"\r")
        where = f"key file {str(path)!r}"
    if len(key) < MIN_KEY_BYTES:
        raise InvalidParameterError(
            f"watermark key: expected at least {MIN_KEY_BYTES} bytes in the {where}, got {len(key)}"
        )
    return key


def check_watermark_spec(spec: Any) -> dict[str, Any] | WatermarkConfig | None:
    """Validate a generator's ``watermark`` hyperparameter without reading the key.

    ``None`` (off), a :class:`WatermarkConfig`, or a mapping with exactly one of ``key_env`` /
    ``key_file`` and optional ``gamma``, ``delta``, ``context_width``, ``seeding``. An inline
    ``key`` is refused: it would be written into the run directory's config.yaml.
    """
    if spec is None or isinstance(spec, WatermarkConfig):
        return spec
    if not isinstance(spec, Mapping):
        raise InvalidParameterError(
            f"watermark: expected None or a mapping like {{key_env: NAME, gamma: 0.25, "
            f"delta: 2.0}}, got {type(spec).__name__}"
        )
    if "key" in spec:
        raise InvalidParameterError(
            "watermark: expected key_env or key_file, got an inline 'key' (keys are never "
            "stored in configs, which are saved with every run)"
        )
    unknown = sorted(set(map(str, spec)) - set(SPEC_KEYS))
    if unknown:
        raise InvalidParameterError(
            f"watermark: expected keys among {', '.join(SPEC_KEYS)}, got {', '.join(unknown)}"
        )
    if ("key_env" in spec) == ("key_file" in spec):
        raise InvalidParameterError(
            "watermark: expected exactly one of key_env or key_file, got "
            f"{'both' if 'key_env' in spec else 'neither'}"
        )
    for name in ("key_env", "key_file"):
        if name in spec and (not isinstance(spec[name], str) or not spec[name]):
            raise InvalidParameterError(f"watermark.{name}: expected a string, got {spec[name]!r}")
    params = {k: spec[k] for k in SPEC_KEYS[2:] if k in spec}
    WatermarkConfig(b"\x00" * MIN_KEY_BYTES, **params)  # validates the parameters only
    return dict(spec)


def resolve_watermark(spec: Any) -> WatermarkConfig | None:
    """The :class:`WatermarkConfig` of a ``watermark`` hyperparameter, reading the key now."""
    spec = check_watermark_spec(spec)
    if spec is None or isinstance(spec, WatermarkConfig):
        return spec
    key = load_key(key_file=spec.get("key_file"), key_env=spec.get("key_env"))
    return WatermarkConfig(key, **{k: spec[k] for k in SPEC_KEYS[2:] if k in spec})


# -- torch / transformers ---------------------------------------------------------------------
def apply_watermark(logits: torch.Tensor, context_ids: Any, cfg: WatermarkConfig) -> torch.Tensor:
    """``logits + delta * green`` for torch logits (B, V), given the ids so far (B, L).

    Call it on the raw logits, before temperature and top-k/top-p. The green mask is computed
    with numpy on the CPU (one hash per vocabulary entry) and moved to the logits' device, so
    every path (numpy, torch, transformers, any device) takes exactly the same decisions.
    """
    import torch

    mask = cfg.green_mask(context_ids, int(logits.shape[-1]))
    bias = torch.from_numpy(mask).to(device=logits.device, dtype=logits.dtype)
    return logits + cfg.delta * bias


def _processor_class() -> type:
    from transformers import LogitsProcessor

    class KirchenbauerLogitsProcessor(LogitsProcessor):
        """``transformers`` LogitsProcessor adding ``delta`` to the green tokens' scores.

        Pass it to ``model.generate(..., logits_processor=LogitsProcessorList([proc]))``; the
        context is the last ``context_width`` ids of ``input_ids`` (prompt included).
        """

        def __init__(self, cfg: WatermarkConfig):
            if not isinstance(cfg, WatermarkConfig):
                raise InvalidParameterError(
                    f"cfg: expected a WatermarkConfig, got {type(cfg).__name__}"
                )
            self.cfg = cfg

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            return apply_watermark(scores, input_ids, self.cfg)

    return KirchenbauerLogitsProcessor


def __getattr__(name: str) -> Any:
    # transformers is imported only when the processor is asked for
    if name == "KirchenbauerLogitsProcessor":
        cls = _processor_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
