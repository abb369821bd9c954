"""Word-level tokenizer shared by the n-gram generator and the text metrics.

Definition (deliberately simple and explicit, so counts are reproducible by hand):

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
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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
