"""The ``csmetrics`` command: a thin Typer layer over the library."""

from __future__ import annotations

import typer

from csmetrics.cli import analytics, data, health, metrics, sources, web

app = typer.Typer(
    name="csmetrics",
    help="Customer success metrics, exactly defined and auditable. Docs: docs/cli.md",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (data, metrics, health, analytics, web, sources):
    module.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
