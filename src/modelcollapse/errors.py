"""Typed, user-facing errors.

Every message says what was expected, what was found and, for data, where (``file:line``).
The CLI prints them on one line and exits with code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ModelCollapseError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class InvalidParameterError(ModelCollapseError, ValueError):
    """A hyperparameter, config key or argument has an invalid value."""


class NotFittedError(ModelCollapseError, AttributeError):
    """A generator was used before ``fit``."""


class MissingExtraError(ModelCollapseError, ImportError):
    """An optional dependency is missing; the message names the pip extra."""


class DataError(ModelCollapseError, ValueError):
    """Bad input data. Carries the file and 1-based line (or record) number when known."""

    def __init__(self, reason: str, *, path: str | None = None, line: int | None = None):
        self.reason = reason
        self.path = path
        self.line = line
        super().__init__(self._format())

    def _format(self) -> str:
        if self.path is None:
            return self.reason
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.reason}"


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return " (did you mean 'x'?)" for the closest choice, or "" when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_name(what: str, name: str, choices: Iterable[str]) -> InvalidParameterError:
    """Build the error for a mistyped registry name, with a suggestion."""
    choices = sorted(choices)
    return InvalidParameterError(
        f"unknown {what} {name!r}{did_you_mean(name, choices)}; expected one of {', '.join(choices)}"
    )


def require_extra(module: str, extra: str):
    """Import an optional dependency or raise MissingExtraError naming the pip extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(
            f"{module!r} is required for this feature; install it with "
            f"pip install 'modelcollapse[{extra}]'"
        ) from exc
