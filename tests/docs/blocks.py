"""The code blocks of README.md and docs/*.md: found, classified and split into commands.

A block is a fenced block (```` ``` ````) or an indented one (four spaces after a
blank line). It is

- ``shell`` when its first line is a command (``csmetrics``, ``make``, ``curl``...);
  its lines are then commands, their continuation lines, and *output lines*: a line
  that is not a command is what the command above it prints (a sample whose shape the
  test checks);
- ``python`` when fenced as python or starting with ``import`` / ``from``;
- ``other`` (a TOML file, a JSON body, a formula, a directory tree): not run.

A ``csmetrics`` command with placeholders (``DIR``, ``[--as-of DATE]``, ``table|json``,
``...``) is a *synopsis*: it cannot run as written, so its command and options are
checked against the Typer app instead.

Markers are HTML comments on the lines just before a block (invisible on GitHub)::

    <!-- docs-test: skip REASON -->                   the block is not run (REASON required)
    <!-- docs-test: skip "make test" REASON -->       only the commands starting "make test"
    <!-- docs-test: expect-exit 2 -->                 the block's last command exits 2
    <!-- docs-test: output-of csmetrics accounts --format json -->
                                                      this (sample) block is what that command prints
    <!-- docs-test: setup                             shell lines run (unseen) before the block
    csmetrics ingest --data demo-data --workspace ws.duckdb
    -->
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

COMMANDS = ("csmetrics", "make", "curl", "pip", "export", ".", "python", "faketime", "mkdir", "cp", "head",
            "grep", "sed", "cat")
"""First words that make a line a command (after ``VAR=value`` prefixes); ``.venv/bin/X`` is one too."""

_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w-]*)")
_MARKER = re.compile(r"^<!--\s*docs-test:\s*(.*?)\s*(-->)?\s*$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\S*$")
_PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z_]*(?:\.[a-z]+)?/?|YYYY-MM-DD|[A-Z]+_[A-Z_]+)$")


@dataclass
class Marker:
    kind: str
    """skip, expect-exit, output-of or setup."""
    arg: str = ""
    """skip: the reason; expect-exit: the code; output-of: the command; setup: the shell lines."""
    prefix: str | None = None
    """skip only: the command prefix skipped (None: the whole block)."""


@dataclass
class Command:
    text: str
    """The command as written, continuation lines joined, the trailing ``# comment`` dropped."""
    line: int
    output: list[str] = field(default_factory=list)
    """Output lines shown under it in the doc."""

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text)

    @property
    def words(self) -> list[str]:
        """The argv without leading ``VAR=value`` assignments."""
        argv = self.argv
        while argv and _ENV.match(argv[0]):
            argv = argv[1:]
        return argv

    @property
    def program(self) -> str:
        w = self.words
        return Path(w[0]).name if w else ""

    @property
    def is_synopsis(self) -> bool:
        """A usage line with placeholders: checked against the CLI, not run."""
        if self.program != "csmetrics":
            return False
        return any(any(c in tok for c in "[]|<>") or "..." in tok or _PLACEHOLDER.match(tok)
                   for tok in self.words[1:])


@dataclass
class Block:
    path: Path
    line: int
    """1-based line of the block's first content line."""
    lang: str
    text: str
    """The content, dedented."""
    markers: list[Marker] = field(default_factory=list)

    @property
    def doc(self) -> str:
        return self.path.relative_to(ROOT).as_posix()

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def kind(self) -> str:
        first = next((ln for ln in self.text.splitlines() if ln.strip()), "")
        if self.lang in ("python", "py") or (self.lang == "" and re.match(r"(import|from) \w", first)):
            return "python"
        if self.lang in ("", "sh", "bash", "shell", "console") and is_command(first):
            return "shell"
        return "other"

    def marker(self, kind: str) -> Marker | None:
        return next((m for m in self.markers if m.kind == kind), None)

    @property
    def skip_reason(self) -> str | None:
        """Why the whole block is not run (None: it is run, maybe in part)."""
        m = next((m for m in self.markers if m.kind == "skip" and m.prefix is None), None)
        return m.arg if m is not None else None

    def skipped(self, cmd: Command) -> str | None:
        """The reason ``cmd`` is not run, if a marker says so."""
        for m in self.markers:
            if m.kind == "skip" and (m.prefix is None or cmd.text.startswith(m.prefix)):
                return m.arg
        return None

    @property
    def commands(self) -> list[Command]:
        return split_commands(self.text, self.line)

    @property
    def runnable(self) -> bool:
        if self.kind == "python":
            return self.skip_reason is None
        if self.kind != "shell":
            return False
        return any(not c.is_synopsis and self.skipped(c) is None for c in self.commands)


def is_command(line: str) -> bool:
    try:
        argv = shlex.split(line, comments=True)
    except ValueError:
        argv = line.split()
    while argv and _ENV.match(argv[0]):
        argv = argv[1:]
    return bool(argv) and (argv[0] in COMMANDS or argv[0].startswith(".venv/bin/"))


def _strip_comment(line: str) -> str:
    """The line without its trailing ``# comment`` (a ``#`` after whitespace, outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def split_commands(text: str, first_line: int) -> list[Command]:
    """Commands with their continuation lines joined and the output lines under each."""
    out: list[Command] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        if not raw.strip():
            i += 1
            continue
        if is_command(raw):
            start = i
            parts = [_strip_comment(raw)]
            # `\` continues a command; a synopsis continues on lines indented under it ("   [--end D]").
            while i + 1 < len(lines) and (parts[-1].endswith("\\") or re.match(r"^\s+\[", lines[i + 1])):
                if parts[-1].endswith("\\"):
                    parts[-1] = parts[-1][:-1].rstrip()
                i += 1
                parts.append(_strip_comment(lines[i]).strip())
            out.append(Command(" ".join(p for p in parts if p), first_line + start))
        elif out:
            out[-1].output.append(raw.rstrip())
        i += 1
    return out


def parse_marker(body: str) -> Marker:
    kind, *more = re.split(r"\s+", body.strip(), maxsplit=1)
    rest = more[0].strip() if more else ""
    if kind == "skip" and rest.startswith('"'):
        prefix, _, reason = rest[1:].partition('"')
        return Marker("skip", reason.strip(), prefix)
    return Marker(kind, rest)


def find_blocks(path: Path) -> list[Block]:
    """Every code block of one Markdown file, with the markers just before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    pending: list[Marker] = []
    prev_blank = True
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _MARKER.match(line.strip())
        if m:
            body = m.group(1)
            if not m.group(2):  # a marker over several lines, up to "-->"
                extra = []
                i += 1
                while i < len(lines) and "-->" not in lines[i]:
                    extra.append(lines[i])
                    i += 1
                body = body + "\n" + "\n".join(extra)
            pending.append(parse_marker(body))
            i += 1
            prev_blank = True  # an HTML block: what follows starts afresh
            continue
        fence = _FENCE.match(line)
        if fence:
            indent, mark, lang = fence.groups()
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(mark):
                j += 1
            body = "\n".join(ln[len(indent):] if ln.startswith(indent) else ln for ln in lines[i + 1:j])
            blocks.append(Block(path, i + 2, lang, body, pending))
            pending = []
            i = j + 1
            prev_blank = False
            continue
        if prev_blank and line.startswith("    ") and line.strip():
            j = i
            while j < len(lines) and (lines[j].startswith("    ") or not lines[j].strip()):
                j += 1
            chunk = lines[i:j]
            while chunk and not chunk[-1].strip():
                chunk.pop()
            width = min(len(ln) - len(ln.lstrip()) for ln in chunk if ln.strip())
            blocks.append(Block(path, i + 1, "", "\n".join(ln[width:] for ln in chunk), pending))
            pending = []
            i = j
            prev_blank = True
            continue
        if line.strip():
            pending = []
        prev_blank = not line.strip()
        i += 1
    return blocks


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


GENERATED = ("docs/cli.md",)
"""Pages generated from the code (and tested against it): their blocks are help texts, not commands."""


def all_blocks() -> list[Block]:
    return [b for p in doc_files() if p.relative_to(ROOT).as_posix() not in GENERATED for b in find_blocks(p)]
