"""Domain errors. They carry the facts; the CLI and web edges format them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Defect:
    """One thing wrong with the input, located as precisely as we can."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    expected: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f" row {self.row}"
        if self.column is not None:
            where += f", column {self.column}" if self.row is not None else f" column {self.column}"
        if self.value is None:
            return f"{where}: {self.expected}"
        return f"{where}: {self.value!r} {self.expected}"


class CsmetricsError(Exception):
    """Base class of the errors csmetrics raises on purpose."""

    exit_code = 1


class DataError(CsmetricsError):
    """The input data breaks the contract of SPEC section 4.

    ``defects`` lists every problem found (up to a limit), not just the first.
    """

    exit_code = 2

    def __init__(self, defects: list[Defect], truncated: bool = False) -> None:
        self.defects = defects
        self.truncated = truncated
        lines = [str(d) for d in defects]
        if truncated:
            lines.append("... more defects not shown")
        super().__init__("\n".join(lines))


class UsageError(CsmetricsError):
    """The user asked for something that cannot be done (unknown metric, bad period...)."""

    exit_code = 2
