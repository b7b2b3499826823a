"""Typer commands; thin: parse, call the library, render."""
