"""Does an output have the shape of the sample a doc shows? Keys for JSON, words in order for text.

Shape, not exact tables: other columns, borders, widths and wrapping may change without the
docs changing, but a key, a column or a figure the doc shows must still be there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

_BOX = re.compile(r"^[\s│┃║|╎─━┄┈═╭╮╰╯┏┓┗┛┡┩┢┪├┤┼╇╈╋┬┴┳┻┠┨┯┷+\-:]+$")
_KEY = re.compile(r'"([A-Za-z_]\w*)"\s*:')


def is_json_sample(lines: Iterable[str]) -> bool:
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    return first[:1] in ("[", "{")


def json_keys(obj: object) -> set[str]:
    """Every key of every object nested in ``obj``."""
    if isinstance(obj, dict):
        return set(obj) | {k for v in obj.values() for k in json_keys(v)}
    if isinstance(obj, list):
        return {k for v in obj for k in json_keys(v)}
    return set()


def check_json(sample: str, stdout: str) -> list[str]:
    """Problems: stdout is not JSON, or (given a sample) has another top-level type or lacks a key it shows."""
    try:
        actual = json.loads(stdout)
    except ValueError as e:
        return [f"the output is not JSON ({e}): {stdout[:300]!r}"]
    problems: list[str] = []
    if not sample.strip():
        return problems
    want = "list" if sample.lstrip().startswith("[") else "object"
    got = "list" if isinstance(actual, list) else "object" if isinstance(actual, dict) else type(actual).__name__
    if want != got:
        problems.append(f"the doc shows a JSON {want}, the output is a JSON {got}")
    missing = sorted(set(_KEY.findall(sample)) - json_keys(actual))
    if missing:
        problems.append(f"keys shown in the doc but not in the output: {', '.join(missing)}")
    return problems


def _tokens(line: str) -> list[str]:
    return [t for t in line.split() if not _BOX.match(t)]


def _strip_comment(line: str) -> str:
    """A doc's output line without its ``   # explanation`` (two spaces or more, then #)."""
    return re.split(r"\s{2,}#\s", line, maxsplit=1)[0]


def _matches(want: str, got: str) -> bool:
    for dots in ("...", "…"):
        if dots in want:
            return got.startswith(want.split(dots, 1)[0])
    return want == got


def _subsequence(want: list[str], got: list[str]) -> bool:
    i = 0
    for tok in got:
        if i < len(want) and _matches(want[i], tok):
            i += 1
    return i == len(want)


def _contiguous(want: list[str], stream: list[str]) -> bool:
    n = len(want)
    return any(all(_matches(w, g) for w, g in zip(want, stream[i:i + n], strict=True))
               for i in range(len(stream) - n + 1))


def check_text(sample_lines: Iterable[str], output: str) -> list[str]:
    """Problems: a sample line whose words are neither on one output line, in order (a table row the doc
    shows with fewer columns), nor word for word anywhere in the output (a message wrapped to the terminal)."""
    out_lines = [_tokens(ln) for ln in output.splitlines()]
    stream = [t for ln in out_lines for t in ln]
    problems = []
    for line in sample_lines:
        want = _tokens(_strip_comment(line))
        if want and not any(_subsequence(want, got) for got in out_lines) and not _contiguous(want, stream):
            problems.append(f"no output line has the words of the doc's line {line.strip()!r}")
    return problems


def check_sample(sample_lines: list[str], stdout: str, stderr: str) -> list[str]:
    if is_json_sample(sample_lines):
        return check_json("\n".join(sample_lines), stdout)
    return check_text(sample_lines, stdout + "\n" + stderr)
