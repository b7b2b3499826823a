"""Run the mutation-testing sessions of mutation/config.toml and print a score per module.

cosmic-ray mutates the module file in place while the tests run, so every run
works on a copy of src/ and tests/ under .mutation/tree (PYTHONPATH points the
tests at the copy's src, ahead of the editable install): the working tree is
never mutated, and tests other people run meanwhile see the real code.

    python mutation/run.py                     # all modules, fresh sessions
    python mutation/run.py revenue validate    # some modules
    python mutation/run.py --survivors revenue # re-run only last run's survivors (after adding tests)
    python mutation/run.py --resume validate   # finish an interrupted session
    python mutation/run.py --rev HEAD          # the last commit, not the working tree
    python mutation/run.py --report            # print the last results again

A survivor listed in mutation/equivalent.toml (matched on its module, operator,
mutated line and, if given, function) is reported as equivalent, with the reason given there.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkItem, WorkResult

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "mutation"
WORK = ROOT / ".mutation"
TREE = WORK / "tree"
BIN = Path(sys.executable).parent


@dataclass
class Module:
    name: str
    path: str
    tests: list[str]
    timeout: float
    sample: int

    @property
    def config(self) -> Path:
        return WORK / f"{self.name}.toml"

    @property
    def session(self) -> Path:
        return WORK / f"{self.name}.sqlite"

    @property
    def source_digest(self) -> Path:
        """SHA-256 of the module a session was made from: its mutants only apply to that text."""
        return WORK / f"{self.name}.sha256"


def load() -> tuple[dict[str, Module], list[str], list[dict[str, str]]]:
    cfg = tomllib.loads((HERE / "config.toml").read_text())
    modules = {n: Module(n, m["path"], m["tests"], float(m["timeout"]), int(m.get("sample", 0)))
               for n, m in cfg["modules"].items()}
    equivalent = tomllib.loads((HERE / "equivalent.toml").read_text()).get("equivalent", [])
    return modules, cfg["operators"]["exclude"], equivalent


def copy_tree(rev: str | None = None) -> None:
    """A fresh copy of the code and tests to mutate (the working tree itself is never touched).

    From the working tree, or with ``rev`` from that git revision (a snapshot that edits in
    progress cannot change).
    """
    if TREE.exists():
        shutil.rmtree(TREE)
    TREE.mkdir(parents=True)
    if rev:
        archive = subprocess.run(["git", "archive", rev, "src", "tests", "pyproject.toml"],
                                 cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(TREE)], input=archive, check=True)
        return
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for name in ("src", "tests"):
        shutil.copytree(ROOT / name, TREE / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", TREE / "pyproject.toml")


def digest(m: Module) -> str:
    return hashlib.sha256((TREE / m.path).read_bytes()).hexdigest()


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(TREE / "src")
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    return e


def test_command(m: Module) -> str:
    tests = [t for t in m.tests if (ROOT / t).exists()]
    for t in m.tests:
        if t not in tests:
            print(f"  note: {t} does not exist; left out")
    return f"{BIN / 'python'} -m pytest -x -q -p no:cacheprovider " + " ".join(tests)


def write_config(m: Module, exclude: list[str]) -> None:
    lines = [
        "[cosmic-ray]",
        f'module-path = "{m.path}"',
        f"timeout = {m.timeout}",
        "excluded-modules = []",
        f"test-command = {test_command(m)!r}".replace("'", '"'),
        "",
        "[cosmic-ray.distributor]",
        'name = "local"',
        "",
        "[cosmic-ray.filters.operators-filter]",
        "exclude-operators = [",
        *(f"    '{e}'," for e in exclude),
        "]",
    ]
    m.config.write_text("\n".join(lines) + "\n")


def run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], cwd=TREE, env=env(), check=True)


def baseline(m: Module) -> float:
    """Run the tests on the unmutated copy; they must pass. Returns the seconds taken."""
    cmd = tomllib.loads(m.config.read_text())["cosmic-ray"]["test-command"]
    start = time.monotonic()
    proc = subprocess.run(cmd.split(), cwd=TREE, env=env(), capture_output=True, text=True)
    took = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{m.name}: the tests fail without any mutation:\n{proc.stdout[-3000:]}")
    return took


def sample(m: Module) -> None:
    """Keep every k-th pending mutant in source order, so at most ``m.sample`` run; skip the rest."""
    with use_db(m.session, WorkDB.Mode.open) as db:
        pending = sorted(db.pending_work_items,
                         key=lambda w: (w.mutations[0].start_pos, w.mutations[0].operator_name))
        if not m.sample or len(pending) <= m.sample:
            return
        k = math.ceil(len(pending) / m.sample)
        skip = [w.job_id for i, w in enumerate(pending) if i % k]
        db.set_multiple_results(skip, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output="not sampled"))
        print(f"  sampled {len(pending) - len(skip)} of {len(pending)} mutants (every {k}th in source order)")


def reset_survivors(m: Module, equivalent: list[dict[str, str]]) -> int:
    """Make the session's unexplained survivors pending again; returns how many."""
    with use_db(m.session, WorkDB.Mode.open) as db:
        jobs = [item.job_id for item, result in db.completed_work_items
                if result.test_outcome == TestOutcome.SURVIVED and not why_equivalent(m, item, result, equivalent)]
    with sqlite3.connect(m.session) as con:
        con.executemany("DELETE FROM work_results WHERE job_id = ?", [(j,) for j in jobs])
    return len(jobs)


def mutated_line(diff: str) -> str:
    return " / ".join(ln[1:].strip() for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++"))


def why_equivalent(m: Module, item: WorkItem, result: WorkResult, equivalent: list[dict[str, str]]) -> str | None:
    """The reason mutation/equivalent.toml gives for this mutant, or None."""
    mut, line = item.mutations[0], mutated_line(result.diff or "")
    return next((e["reason"] for e in equivalent if e["module"] == m.name
                 and e["operator"] == mut.operator_name and e["mutated"] == line
                 and e.get("function", mut.definition_name) == mut.definition_name), None)


def report(m: Module, equivalent: list[dict[str, str]]) -> tuple[int, int, int, int]:
    """Print the module's score; returns (killed, total, equivalent, unexplained survivors)."""
    if not m.session.exists():
        print(f"{m.name}: no session (not run)")
        return 0, 0, 0, 0
    with use_db(m.session, WorkDB.Mode.open) as db:
        done = db.completed_work_items
        pending = len(db.pending_work_items)
    killed = timeouts = incompetent = skipped = 0
    survivors, equiv = [], []
    for item, result in done:
        if result.worker_outcome in (WorkerOutcome.SKIPPED, WorkerOutcome.NO_TEST):
            skipped += 1
        elif result.test_outcome == TestOutcome.KILLED:
            killed += 1
            timeouts += result.output == "timeout"
        elif result.test_outcome == TestOutcome.SURVIVED:
            reason = why_equivalent(m, item, result, equivalent)
            (equiv if reason else survivors).append((item.mutations[0], result, reason))
        else:
            incompetent += 1
    total = killed + len(survivors) + len(equiv) + incompetent
    score = killed / (total - len(equiv)) if total - len(equiv) else 1.0
    print(f"\n{m.name} ({m.path}): killed {killed} / {total} ({timeouts} by timeout), "
          f"survived {len(survivors) + len(equiv)} ({len(equiv)} equivalent), incompetent {incompetent}; "
          f"score {score:.1%} of non-equivalent; {skipped} skipped (filtered or not sampled), {pending} pending")
    for mut, _, reason in sorted(equiv, key=lambda x: x[0].start_pos):
        print(f"  equivalent  line {mut.start_pos[0]} {mut.operator_name}: {reason}")
    for mut, result, _ in sorted(survivors, key=lambda x: x[0].start_pos):
        print(f"  SURVIVED    line {mut.start_pos[0]} {mut.operator_name} (occurrence {mut.occurrence})")
        print("    " + "\n    ".join((result.diff or "").splitlines()[2:]))
    return killed, total, len(equiv), len(survivors)


def main() -> None:
    modules, exclude, equivalent = load()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("modules", nargs="*", help=f"modules to run (default: all of {', '.join(modules)})")
    p.add_argument("--survivors", action="store_true", help="re-run only the unexplained survivors of the last session")
    p.add_argument("--resume", action="store_true", help="run the mutants an interrupted session left pending")
    p.add_argument("--report", action="store_true", help="only print the last results")
    p.add_argument("--rev", help="mutate this git revision (e.g. HEAD) instead of the working tree")
    args = p.parse_args()
    if unknown := set(args.modules) - set(modules):
        p.error(f"unknown module(s) {', '.join(sorted(unknown))}: expected {', '.join(modules)}")
    chosen = [modules[n] for n in (args.modules or modules)]
    if not args.report:
        WORK.mkdir(exist_ok=True)
        copy_tree(args.rev)
        for m in chosen:
            print(f"== {m.name}: mutating {m.path}")
            write_config(m, exclude)
            print(f"  clean run of the tests: {baseline(m):.1f} s")
            start = time.monotonic()
            if (args.resume or args.survivors) and m.session.exists():
                if not m.source_digest.exists() or m.source_digest.read_text() != digest(m):
                    sys.exit(f"{m.path} is not the text its session was made from: run it afresh "
                             "(or pass --rev with the revision the session was made from)")
                if args.resume:
                    print("  resuming the pending mutants")
                else:
                    print(f"  re-running {reset_survivors(m, equivalent)} survivors (equivalent ones left as they are)")
            else:
                m.source_digest.write_text(digest(m))
                run(BIN / "cosmic-ray", "init", "--force", m.config, m.session)
                run(BIN / "cr-filter-operators", m.session, m.config)
                sample(m)
            run(BIN / "cosmic-ray", "exec", m.config, m.session)
            print(f"  mutants ran in {time.monotonic() - start:.0f} s")
            if digest(m) != m.source_digest.read_text():  # cosmic-ray restores each file; say so if it did not
                print(f"  WARNING: {TREE / m.path} is not the text the session was made from after the run")
    print("\nMutation score per module (killed / total non-skipped mutants; timeouts count as killed)")
    for m in chosen:
        report(m, equivalent)


if __name__ == "__main__":
    main()
