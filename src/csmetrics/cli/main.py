"""The ``csmetrics`` command: a thin Typer layer over the library."""

from __future__ import annotations

from typing import Annotated

import typer

from csmetrics.cli import alerts, analytics, data, health, metrics, sources, web

app = typer.Typer(
    name="csmetrics",
    help="Customer success metrics, exactly defined and auditable. Docs: docs/cli.md",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (data, metrics, health, analytics, web, sources, alerts):
    module.register(app)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("csmetrics")
        except PackageNotFoundError:  # running from a source tree that was never installed
            v = "unknown"
        print(f"csmetrics {v}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print `csmetrics <version>` and exit.",
                                          callback=_print_version, is_eager=True)] = False,
) -> None:
    """Customer success metrics, exactly defined and auditable. Docs: docs/cli.md"""


if __name__ == "__main__":  # pragma: no cover
    app()
