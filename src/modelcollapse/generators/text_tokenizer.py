"""Subword tokenizers for the neural text generators: character level or byte-level BPE.

Both are trained on the training documents with the Hugging Face ``tokenizers`` library and
serialise to one JSON string (``{"kind": ..., "tokenizer": <tokenizers JSON>}``), so a
checkpoint stores the tokenizer as plain bytes and loading it never unpickles anything.

Ids 0-3 are always the special tokens, in this order:

- ``<pad>`` (0): fills short rows of a batch; never a prediction target.
- ``<bos>`` (1): starts every document; never a prediction target.
- ``<eos>`` (2): ends every document; predicted, so the model learns where documents stop.
- ``<unk>`` (3): a character the ``char`` tokenizer did not see in training (one ``<unk>`` per
  unseen character). The byte-level BPE tokenizer never produces it: every string is a sequence
  of bytes and all 256 bytes are in its alphabet.

The special tokens are never matched inside document text (``encode_special_tokens``): a
document containing the literal string ``"<eos>"`` is encoded as its characters, so
``decode(encode(doc)) == doc`` for every string (for ``char`` when no character is unseen).
``decode`` drops special ids.

Kinds:

- ``char``: one token per Unicode character (a BPE model trained with no merges, whose alphabet
  is every character of the training documents).
- ``bpe``: GPT-2-style byte-level BPE (Sennrich et al. 2016; Radford et al. 2019) with
  ``vocab_size`` tokens in total (fewer when the corpus runs out of pairs to merge). Spaces are
  kept as part of the following token, without adding a prefix space, so decoding is exact.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from modelcollapse.errors import DataError, InvalidParameterError, require_extra

TokenizerKind = Literal["char", "bpe"]
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = 0, 1, 2, 3


def _tokenizers() -> Any:
    """The ``tokenizers`` module, or MissingExtraError naming the extra that installs it."""
    return require_extra("tokenizers", "torch")


class TextTokenizer:
    """A trained ``char`` or ``bpe`` tokenizer with fixed special ids (see the module docstring)."""

    def __init__(self, tokenizer: Any, kind: TokenizerKind):
        self._tok = tokenizer
        self.kind = kind
        # never let document text turn into a special id (the flag is not part of the JSON)
        self._tok.encode_special_tokens = True
        for i, name in enumerate(SPECIALS):
            if tokenizer.token_to_id(name) != i:
                raise DataError(
                    f"tokenizer: expected special token {name!r} at id {i}, "
                    f"got {tokenizer.token_to_id(name)!r}"
                )

    # -- training ---------------------------------------------------------------------------
    @classmethod
    def train(
        cls, docs: Sequence[str], kind: TokenizerKind = "bpe", vocab_size: int = 1000
    ) -> TextTokenizer:
        """Train on ``docs``. ``vocab_size`` (special tokens included) only applies to ``bpe``.

        Training is deterministic: the same documents give the same tokenizer.
        """
        tk = _tokenizers()
        if kind == "char":
            tok = tk.Tokenizer(tk.models.BPE(unk_token="<unk>"))
            tok.decoder = tk.decoders.Fuse()
            # vocab_size=1 < the alphabet: the trainer keeps every character and merges nothing
            trainer = tk.trainers.BpeTrainer(
                vocab_size=1, special_tokens=list(SPECIALS), show_progress=False
            )
        elif kind == "bpe":
            alphabet = tk.pre_tokenizers.ByteLevel.alphabet()
            low = len(SPECIALS) + len(alphabet)
            if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < low:
                raise InvalidParameterError(
                    f"vocab_size: expected an integer >= {low} (specials + 256 bytes), "
                    f"got {vocab_size!r}"
                )
            tok = tk.Tokenizer(tk.models.BPE())
            tok.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
            tok.decoder = tk.decoders.ByteLevel()
            trainer = tk.trainers.BpeTrainer(
                vocab_size=vocab_size,
                special_tokens=list(SPECIALS),
                initial_alphabet=alphabet,
                show_progress=False,
            )
        else:
            raise InvalidParameterError(f"tokenizer: expected 'char' or 'bpe', got {kind!r}")
        tok.train_from_iterator(list(docs), trainer)
        return cls(tok, kind)

    # -- use --------------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """Number of ids, special tokens included."""
        return int(self._tok.get_vocab_size(with_added_tokens=True))

    def encode(self, docs: Sequence[str]) -> list[list[int]]:
        """Token ids of each document, without ``<bos>``/``<eos>``."""
        if not docs:
            return []
        return [e.ids for e in self._tok.encode_batch(list(docs), add_special_tokens=False)]

    def decode(self, ids: Sequence[Sequence[int]]) -> list[str]:
        """Text of each id sequence; special ids are dropped."""
        if not ids:
            return []
        return list(
            self._tok.decode_batch([list(map(int, s)) for s in ids], skip_special_tokens=True)
        )

    # -- serialisation ----------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "tokenizer": json.loads(self._tok.to_str())})

    @classmethod
    def from_json(cls, text: str) -> TextTokenizer:
        """Rebuild from :meth:`to_json` output; malformed JSON raises DataError."""
        tk = _tokenizers()
        try:
            obj = json.loads(text)
            kind = obj["kind"]
            tok = tk.Tokenizer.from_str(json.dumps(obj["tokenizer"]))
        except Exception as exc:  # json, key and type errors, and tokenizers' own Exception
            raise DataError(
                f"tokenizer: expected the JSON written by to_json, got ({exc})"
            ) from None
        if kind not in ("char", "bpe"):
            raise DataError(f"tokenizer: expected kind 'char' or 'bpe', got {kind!r}")
        return cls(tok, kind)
