"""Generates docs/metrics.md from the registry, so the docs cannot drift from the code."""

from __future__ import annotations

import sys
from pathlib import Path

from csmetrics.registry import load_all

HEADER = """# Metrics

Generated from the metric registry (`python -m csmetrics.report.docs > docs/metrics.md`);
a test fails when this page and the code disagree. Each definition is the
metric's docstring, also shown by `csmetrics metrics --list`, `csmetrics explain`
and the web definitions page. SPEC section 6 is the contract they implement.

Conventions: periods are calendar aligned; "at the start" of a period is the day
before its first day, "at the end" its last day; `ended_at` is exclusive; a
timestamp counts on its UTC date. Rates are fractions (0.064 = 6.4%) except
nps, csat and ces (0-100 / -100..100). A rate whose denominator is 0 is null.
With `--by COLUMN` each group uses only its accounts (accounts with an empty
value form the group `(none)`); additive metrics sum to the total.
Metrics marked *opt-in* are computed only when named in `--metrics` (or with
`--metrics all`), because they score every account at every period end.

Readings where SPEC allowed another:
- `customer_churn_rate` can exceed 1: customers new and gone within the period
  count as churned but are not in `customers_start` (SPEC's seed rule).
- `fcr_rate`: tickets with an unknown `contacts` are not first-contact resolutions.
- `cs_costs` and `crc` with `--by`: costs carry no account; they are attributed by a
  costs column named like the `--by` column if there is one (an empty value to the
  group `(none)`; a value no account has to no group), else the value is null.
- `purchase_clv`: averages over the charges of the period; "per month" divides
  the charges per purchasing account by the months in the period.
- Default range: from the first dated row to the last dated event (scheduled
  `ended_at` and renewal `due_on` dates do not extend it), capped at today.
"""


def render() -> str:
    out = [HEADER]
    family = None
    for m in load_all().values():
        if m.family != family:
            family = m.family
            out.append(f"\n## {family}\n")
        flags = [m.unit, "needs " + ", ".join(m.needs) if m.needs else "needs accounts only"]
        if m.additive:
            flags.append("additive")
        if not m.default:
            flags.append("opt-in")
        out.append(f"### `{m.name}`\n\n*{'; '.join(flags)}*\n\n{m.definition}\n")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render())
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(render(), encoding="utf-8")
