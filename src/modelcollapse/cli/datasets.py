"""``modelcollapse datasets``: list the bundled, offline datasets."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def datasets() -> None:
    """List the bundled datasets with their sizes (all load offline).

    Example:

      modelcollapse datasets
    """
    from modelcollapse.data.bundled import list_datasets

    table = Table(title="Bundled datasets")
    table.add_column("name", style="bold")
    table.add_column("kind")
    table.add_column("records", justify="right")
    table.add_column("size")
    table.add_column("description")
    for info in list_datasets():
        table.add_row(
            info.name,
            info.kind,
            f"{info.size:,}",
            str(getattr(info, "dimensions", "")),
            info.description,
        )
    Console().print(table)
