"""The one record type: ``Document(id, text, metadata)``.

Provenance lives under ``metadata["provenance"]``: ``source`` (human|synthetic|unknown),
``generator``, ``generation``, ``created_at`` and ``sha256`` of the text.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Source = Literal["human", "synthetic", "unknown"]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def provenance(
    text: str,
    *,
    source: Source,
    generator: str | None = None,
    generation: int | None = None,
    created_at: str | None = None,
) -> dict[str, Any]:
    return {
        "source": source,
        "generator": generator,
        "generation": generation,
        "created_at": created_at or datetime.now(UTC).isoformat(timespec="seconds"),
        "sha256": content_hash(text),
    }


@dataclass
class Document:
    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
