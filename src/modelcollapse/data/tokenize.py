"""Tokenizers: the n-gram generator's word tokenizer and the named tokenizers of the text metrics.

**The word tokenizer** (the n-gram generator's; also the metrics' ``"words"``). Definition
(deliberately simple and explicit, so counts are reproducible by hand):

- ``tokenize(text)`` returns every maximal run of word characters (``\\w+``, Unicode-aware: letters,
  digits, underscore) and every other non-whitespace character on its own (``[^\\w\\s]``), in order.
  Whitespace only separates tokens and is dropped. With ``lowercase=True`` the text is lowercased
  (``str.lower``) before splitting. ``"Hello, world!"`` -> ``["Hello", ",", "world", "!"]``.
- ``detokenize(tokens)`` joins tokens with single spaces, except that a punctuation token (one that
  is not a word, i.e. does not match ``\\w+``) is attached to the previous token without a space.
  ``["Hello", ",", "world", "!"]`` -> ``"Hello, world!"``. Opening brackets and quotes are attached
  to the left too (``"say ( yes )"`` becomes ``"say( yes)"``); that keeps the rule one line long.

For any list of tokens produced by ``tokenize``, ``tokenize(detokenize(tokens)) == tokens``: a word
is never glued to another word, and a punctuation token is a single character, so splitting it back
off is unambiguous. Special symbols such as ``<s>`` can never be produced (``<`` and ``>`` are split
off), so models may use them internally without clashing with real text.

**Metric tokenizers** (:func:`get_tokenizer`). Text metrics count tokens, so their values depend
on the tokenization; it is always explicit and named by a string (``--tokenizer`` of
``modelcollapse measure``, ``tokenizer:`` of an experiment config):

- ``"whitespace"`` (the default, :data:`DEFAULT_TOKENIZER`): ``str.split()``, the maximal runs
  of non-whitespace characters (whitespace as ``str.isspace``). ``"Word, word"`` ->
  ``["Word,", "word"]``. The usual convention of diversity metrics (the ``diversity`` package,
  Shaib et al. 2024) and of most self-BLEU scripts; punctuation stays attached to words.
- ``"words"``: :func:`tokenize` above. ``"Word, word"`` -> ``["Word", ",", "word"]``.
- ``"regex:PATTERN"``: every non-empty, non-overlapping match of the Python regular expression
  ``PATTERN``, left to right (``re.finditer``; the whole match, whatever groups the pattern has;
  empty matches are skipped). ``"regex:\\w+"`` keeps words and drops punctuation.
- ``"lower:SPEC"``: the text lowercased (``str.lower``) and then tokenized by ``SPEC``, e.g.
  ``"lower:words"`` or ``"lower:regex:[a-z]+"``.

Every tokenizer returns a list of non-empty strings, and never raises on any ``str``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from modelcollapse.errors import InvalidParameterError, unknown_name

TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"\w")


def tokenize(text: str, lowercase: bool = False) -> list[str]:
    """Split ``text`` into words and single punctuation characters (see the module docstring)."""
    if lowercase:
        text = text.lower()
    return TOKEN_PATTERN.findall(text)


def is_word(token: str) -> bool:
    """Whether ``token`` is a word token (starts with a word character) rather than punctuation."""
    return _WORD.match(token) is not None


def detokenize(tokens: Iterable[str]) -> str:
    """Join tokens with single spaces, attaching punctuation to the previous token."""
    parts: list[str] = []
    for tok in tokens:
        if parts and is_word(tok):
            parts.append(" ")
        parts.append(tok)
    return "".join(parts)


# -- metric tokenizers ----------------------------------------------------------------------
Tokenizer = Callable[[str], list[str]]
DEFAULT_TOKENIZER = "whitespace"
REGEX_PREFIX = "regex:"
LOWER_PREFIX = "lower:"
# Named tokenizers (module-level functions, so a resolved tokenizer pickles for worker pools).
TOKENIZERS: dict[str, Tokenizer] = {"whitespace": str.split, "words": tokenize}
TOKENIZER_FORMS = (*TOKENIZERS, REGEX_PREFIX + "PATTERN", LOWER_PREFIX + "SPEC")


@dataclass(frozen=True)
class RegexTokenizer:
    """Tokens = the non-empty, non-overlapping matches of ``pattern``, left to right."""

    pattern: re.Pattern[str]

    def __call__(self, text: str) -> list[str]:
        return [m.group() for m in self.pattern.finditer(text) if m.end() > m.start()]


@dataclass(frozen=True)
class LowercaseTokenizer:
    """``inner(text.lower())``."""

    inner: Tokenizer

    def __call__(self, text: str) -> list[str]:
        return self.inner(text.lower())


def _named(spec: str) -> Tokenizer:
    if spec.startswith(LOWER_PREFIX):
        return LowercaseTokenizer(_named(spec.removeprefix(LOWER_PREFIX)))
    if spec.startswith(REGEX_PREFIX):
        pattern = spec.removeprefix(REGEX_PREFIX)
        if not pattern:
            raise InvalidParameterError(
                f"tokenizer: expected a regular expression after {REGEX_PREFIX!r}, got {spec!r}"
            )
        try:
            return RegexTokenizer(re.compile(pattern))
        except re.error as exc:
            raise InvalidParameterError(
                f"tokenizer: expected a valid regular expression after {REGEX_PREFIX!r}, "
                f"got {pattern!r} ({exc})"
            ) from None
    if spec not in TOKENIZERS:
        raise unknown_name("tokenizer", spec, TOKENIZER_FORMS)
    return TOKENIZERS[spec]


def get_tokenizer(spec: Tokenizer | str | None = None) -> Tokenizer:
    """The tokenizer named by ``spec`` (see the module docstring); ``None`` means
    :data:`DEFAULT_TOKENIZER`. A callable ``str -> list[str]`` is returned as it is.

    Raises InvalidParameterError for an unknown name (with a suggestion) or a bad pattern.
    """
    if spec is None:
        spec = DEFAULT_TOKENIZER
    if isinstance(spec, str):
        return _named(spec)
    if callable(spec):
        return spec
    raise InvalidParameterError(
        f"tokenizer: expected a name ({', '.join(TOKENIZER_FORMS)}) or a callable "
        f"str -> list[str], got {type(spec).__name__}"
    )


def check_tokenizer(spec: Any) -> str:
    """Validate a tokenizer *name* (configs and the command line take names only); returns it."""
    if not isinstance(spec, str):
        raise InvalidParameterError(
            f"tokenizer: expected a name ({', '.join(TOKENIZER_FORMS)}), got {type(spec).__name__}"
        )
    _named(spec)
    return spec


def tokenizer_name(spec: Tokenizer | str | None) -> str:
    """How a result records its tokenizer: the name, or the callable's qualified name."""
    if spec is None:
        return DEFAULT_TOKENIZER
    if isinstance(spec, str):
        return spec
    name = getattr(spec, "__qualname__", None) or type(spec).__qualname__
    module = getattr(spec, "__module__", None)
    return f"callable:{module}.{name}" if module else f"callable:{name}"
