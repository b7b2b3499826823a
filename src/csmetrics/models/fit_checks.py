"""Is a BG/NBD or Gamma-Gamma fit usable? Degenerate fits named in words, with what the data lacks.

A maximum-likelihood fit always returns numbers. When the data cannot
identify the model, the optimum runs off to a boundary: BG/NBD puts the
drop-out chance at 0 (``a`` -> 0), so P(alive) is 1 for everyone; Gamma-Gamma
sends ``p`` to infinity and ``q`` to 1, so its population mean spend is
unbounded. The numbers look like estimates but say nothing. These checks
find such fits from signs that do not depend on the time unit or currency:

- too few repeat purchasers (:data:`MIN_REPEAT`) to estimate anything;
- a shape parameter (BG/NBD ``r``, ``a``, ``b``; Gamma-Gamma ``p``, ``q``)
  below :data:`SHAPE_MIN` or above :data:`SHAPE_MAX` (``alpha`` and ``gamma``
  are scales, in time units and money, so no fixed bound fits them);
- a mean drop-out chance after a purchase, a / (a + b), below :data:`DROPOUT_MIN`;
- P(alive) spanning less than :data:`P_ALIVE_SPREAD` across accounts;
- Gamma-Gamma ``q`` below :data:`Q_MIN` (its population mean p gamma / (q - 1) explodes);
- a standard error that cannot be computed (the likelihood is flat or the
  optimum is on a boundary).

On the CDNOW sample (r = 0.243, alpha = 4.41, a = 0.793, b = 2.43;
p = 6.25, q = 3.74, gamma = 15.4; P(alive) from 0.00 to 1.00) none fires.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from csmetrics.models.btyd import FitSummary

__all__ = ["DROPOUT_MIN", "MIN_REPEAT", "P_ALIVE_SPREAD", "QUIET_GAPS", "Q_MIN", "SHAPE_MAX", "SHAPE_MIN",
           "check_bgnbd", "check_gamma_gamma", "too_few_repeat"]

MIN_REPEAT = 10
"""Fewer accounts with a repeat purchase than this cannot inform BG/NBD's rates and drop-out."""
SHAPE_MIN = 1e-3
SHAPE_MAX = 1e4
DROPOUT_MIN = 1e-3
P_ALIVE_SPREAD = 0.01
Q_MIN = 1.05
QUIET_GAPS = 3


def _g(v: float) -> str:
    """A parameter as people read it: 0.000911, 112, 2.89e+09."""
    return f"{v:.3g}"


def _shape_problems(fit: FitSummary, shapes: tuple[str, ...]) -> list[str]:
    out = []
    for name in shapes:
        v = fit.params[name]
        if v < SHAPE_MIN:
            out.append(f"{name} = {_g(v)} at its lower bound")
        elif v > SHAPE_MAX:
            out.append(f"{name} = {_g(v)}, without bound")
    return out


def _no_se(fit: FitSummary) -> str | None:
    missing = [k for k, v in fit.standard_errors.items() if not math.isfinite(v)]
    if not missing:
        return None
    return f"no standard error for {', '.join(missing)}"


def too_few_repeat(n_accounts: int, n_repeat: int) -> str | None:
    """The warning when fewer than :data:`MIN_REPEAT` accounts made a repeat purchase, else None."""
    if n_repeat >= MIN_REPEAT:
        return None
    return (f"only {n_repeat} of {n_accounts:,} account{'s' * (n_accounts != 1)} made a repeat purchase; "
            f"BG/NBD needs repeat purchases with varying gaps (at least {MIN_REPEAT} accounts with one) to "
            "estimate buying rates and drop-out, so its P(alive) and expected purchases are not reliable")


def check_bgnbd(fit: FitSummary, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike,  # noqa: N803
                p_alive: npt.ArrayLike, unit: str) -> str | None:
    """The warning for a degenerate BG/NBD fit (None when it looks usable).

    ``frequency``, ``recency``, ``T`` (in ``unit``) and ``p_alive`` are per
    account, as fitted and predicted. An account is *quiet* when its time
    since its last purchase, T - t_x, exceeds :data:`QUIET_GAPS` times its
    mean gap t_x / x.
    """
    x, t_x, t_big, alive = (np.asarray(v, dtype="float64") for v in (frequency, recency, T, p_alive))
    a, b = fit.params["a"], fit.params["b"]
    signs = _shape_problems(fit, ("r", "a", "b"))
    dropout = a / (a + b)
    flat_dropout = dropout < DROPOUT_MIN
    if flat_dropout and not any(s.startswith("a =") for s in signs):
        signs.append(f"a / (a + b) = {_g(dropout)}")
    lo, hi = float(alive.min()), float(alive.max())
    flat_alive = hi - lo < P_ALIVE_SPREAD
    if (se := _no_se(fit)) is not None:
        signs.append(se)
    if not signs and not flat_alive:
        return None
    repeat = x > 0
    n_rep = int(repeat.sum())
    if flat_alive:
        same = f"{lo:.2f}" == f"{hi:.2f}"
        effect = (f"P(alive) is {lo:.2f} for all {len(alive):,} accounts" if same
                  else f"P(alive) only spans {lo:.2f} to {hi:.2f} over {len(alive):,} accounts")
        effect += ", so it cannot show who has stopped buying"
    else:
        effect = "its parameters are not pinned down by the data"
    if flat_dropout:
        effect = "it finds almost no drop-out after a purchase, and " + effect
    head = "BG/NBD fit is degenerate" + (f" ({'; '.join(signs)})" if signs else "")
    mean_x = float(x[repeat].mean()) if n_rep else 0.0
    gaps = t_x[repeat] / x[repeat]
    gap = float(np.median(gaps)) if n_rep else math.nan
    quiet = int((t_big[repeat] - t_x[repeat] > QUIET_GAPS * gaps).sum())
    lack = (f"What the data lacks: a drop-out signal. The {n_rep:,} account{'s' * (n_rep != 1)} with a repeat "
            f"purchase bought {mean_x:.1f} more time{'s' * (mean_x != 1)} on average, about every {gap:.1f} "
            f"{unit}s (median), and {quiet:,} of them {'has' if quiet == 1 else 'have'} been quiet for more than "
            f"{QUIET_GAPS} times {'its' if quiet == 1 else 'their'} usual gap; BG/NBD needs several repeat "
            "purchases per account with varying gaps, and accounts that bought regularly and then went quiet.")
    return f"{head}: {effect}. {lack}"


def check_gamma_gamma(fit: FitSummary, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> str | None:
    """The warning for a degenerate Gamma-Gamma fit (None when it looks usable).

    ``frequency`` and ``monetary_value`` are per account; only repeat
    purchasers with spend > 0 were fitted.
    """
    x, z = np.asarray(frequency, dtype="float64"), np.asarray(monetary_value, dtype="float64")
    signs = _shape_problems(fit, ("p", "q"))
    q = fit.params["q"]
    if q < Q_MIN and not any(s.startswith("q =") for s in signs):
        signs.append(f"q = {_g(q)}, near 1")
    se = _no_se(fit)
    if not signs and se is None:
        return None
    signs.append(f"gamma = {_g(fit.params['gamma'])}")
    if se is not None:
        signs.append(se)
    z = z[(x > 0) & (z > 0)]
    p10, p90 = np.percentile(z, [10, 90])
    return (f"Gamma-Gamma fit is degenerate ({'; '.join(signs)}): its population mean spend p gamma / (q - 1) "
            "is unreliable or unbounded. What the data lacks: the shape Gamma-Gamma needs, repeat spend that "
            "varies around one typical level and settles as an account buys more; the "
            f"{len(z):,} repeat purchasers' mean spend runs from {p10:,.2f} to {p90:,.2f} (10th to 90th percentile).")
