"""Text normalisation for the registry: what counts as "the same text".

The registry keys documents by the SHA-256 of their *normalised* text and builds MinHash
signatures from it, so trivial edits (case, punctuation, spacing, full-width or ligature forms,
invisible characters) neither create a new entry nor lower the estimated similarity. Krishna et
al. (2023, "Paraphrasing evades detectors of AI-generated text, but retrieval is an effective
defense") retrieve a candidate text among everything an API generated; normalising first makes
the exact-match part of that retrieval robust to such surface edits.

Definition (version :data:`NORMALIZATION_VERSION`), applied until the text stops changing (at
most a few rounds, so ``normalize(normalize(t)) == normalize(t)`` always):

1. every *format* character (Unicode category ``Cf``: zero-width space and joiners, soft hyphen,
   byte-order mark, bidi controls) is deleted: they are invisible, so inserting them is a free
   way to change a text's bytes;
2. every *punctuation* character (categories ``Pc Pd Ps Pe Pi Pf Po``), every control
   character (``Cc``, which includes tab and newline) and every separator (``Zs Zl Zp``) becomes
   a space. Symbols (``S*``: ``$``, ``+``, emoji) and digits are kept: they carry content;
3. Unicode NFKC, then ``str.casefold`` (full case folding: ``"Straße"`` -> ``"strasse"``), then
   NFKC again (case folding can produce text that is no longer NFKC);
4. whitespace runs collapse to one space; leading and trailing whitespace is removed.

``"Hello,  WORLD!"`` and ``"hello world"`` normalise to the same ``"hello world"``. Accents are
kept (``"café"`` and ``"cafe"`` differ): dropping them would merge distinct words in many
languages. Changing any rule changes :data:`NORMALIZATION_VERSION`; the registry stores the
version it was built with and refuses to mix versions.
"""

from __future__ import annotations

import hashlib
import unicodedata

__all__ = ["NORMALIZATION_VERSION", "normalize", "normalized_hash"]

NORMALIZATION_VERSION = 1

_SPACE = ord(" ")


class _Table(dict[int, int | None]):
    """``str.translate`` table filled lazily: each code point's category is looked up once.

    ``str.translate`` looks the table up in C; only the first sight of a code point reaches
    ``__missing__``, so a corpus costs one ``unicodedata.category`` call per distinct character.
    """

    def __missing__(self, cp: int) -> int | None:
        cat = unicodedata.category(chr(cp))
        value: int | None
        if cat == "Cf":
            value = None
        elif cat[0] == "P" or cat == "Cc" or cat[0] == "Z":
            value = _SPACE
        else:
            value = cp
        self[cp] = value
        return value


_TABLE = _Table()


def _round(text: str) -> str:
    text = text.translate(_TABLE)
    if text.isascii():
        return " ".join(text.lower().split())  # NFKC is the identity on ASCII; casefold == lower
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    # NFKC can produce punctuation (U+2100 "a/c" -> "a/c"): translate again.
    return " ".join(text.translate(_TABLE).split())


def normalize(text: str) -> str:
    """The normalised form of ``text`` (see the module docstring for the definition)."""
    if not isinstance(text, str):
        from modelcollapse.errors import InvalidParameterError

        raise InvalidParameterError(f"expected a str to normalise, got {type(text).__name__}")
    out = _round(text)
    for _ in range(4):
        again = _round(out)
        if again == out:
            return out
        out = again
    return out  # pragma: no cover - no known text needs more than two rounds


def normalized_hash(text: str) -> str:
    """SHA-256 (hex) of the UTF-8 bytes of ``normalize(text)``: the registry's document key.

    Lone surrogates (possible in in-memory strings, never in files we read) are encoded with
    ``surrogatepass`` so hashing never fails.
    """
    return hashlib.sha256(normalize(text).encode("utf-8", "surrogatepass")).hexdigest()
