"""The ``modelcollapse`` command. Thin: parse arguments, load config, call the library.

User errors print one line and exit with code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import typer

from modelcollapse import __version__
from modelcollapse.errors import ModelCollapseError

app = typer.Typer(
    name="modelcollapse",
    help=(
        "Simulate, measure and guard against model collapse.\n\n"
        "Examples:\n\n"
        "  modelcollapse demo\n\n"
        "  modelcollapse simulate examples/gaussian_mle.yaml --out runs/gauss\n\n"
        "  modelcollapse datasets"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"modelcollapse {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Simulate, measure and guard against model collapse."""


def _register_commands() -> None:
    from modelcollapse.cli import datasets, demo, guard, measure, monitor, simulate

    app.command("simulate")(simulate.simulate)
    app.command("demo")(demo.demo)
    app.command("datasets")(datasets.datasets)
    app.command("measure")(measure.measure)
    app.command("monitor")(monitor.monitor)
    from modelcollapse.cli.report import report

    app.command("report")(report)
    app.add_typer(guard.app, name="guard")
    from modelcollapse.cli.sweep import sweep as sweep_command

    app.command("sweep")(sweep_command)


_register_commands()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is at each record, not as it was when the handler was
    made: a program (or a test) that calls ``main`` more than once may swap stderr between
    calls, and a handler holding the old, closed stream prints "Logging error" tracebacks."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _setup_logging() -> None:
    # Library warnings (e.g. how many bad records were quarantined) go to stderr, one line each.
    logger = logging.getLogger("modelcollapse")
    if not logger.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    _setup_logging()
    try:
        # Standalone mode: click handles --help, usage errors and exit codes itself.
        app(args=argv, prog_name="modelcollapse")
    except (ModelCollapseError, FileNotFoundError, PermissionError) as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted; rerun with --resume to continue", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
