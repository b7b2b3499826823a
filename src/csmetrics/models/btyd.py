"""BG/NBD and Gamma-Gamma: "buy till you die" models fitted by maximum likelihood.

Each fitter is one class with the same surface (``fit`` returns the fitter;
``params_``, ``standard_errors_``, ``log_likelihood_``; prediction methods),
and the maths is in its docstring. Inputs are the per-customer summary
(frequency, recency, T, monetary value) computed by the backend
(:func:`csmetrics.models.clv.rfm_summary`); fitting works on those arrays.

Why hand-written with SciPy and not a library: ``lifetimes`` (the reference
Python implementation) has been unmaintained since 2020 and its authors point
to ``pymc-marketing``, which pulls in PyMC and PyTensor (a compiler tool
chain) for what is four lines of log-likelihood; ``btyd`` is a stalled beta
fork. The published likelihoods are short, and the tests check the fits
against the published CDNOW estimates (Fader, Hardie and Lee 2005).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

Array = npt.NDArray[np.float64]


def _arr(x: npt.ArrayLike) -> Array:
    return np.asarray(x, dtype="float64")


def _hessian(f: Callable[[Array], float], x: Array, rel: float = 1e-4) -> Array:
    """Central-difference Hessian of ``f`` at ``x`` (for standard errors only)."""
    n = len(x)
    h = rel * np.maximum(np.abs(x), 1e-2)
    out = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.zeros(n), np.zeros(n)
            ei[i], ej[j] = h[i], h[j]
            v = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
            out[i, j] = out[j, i] = v
    return out


def _fit_positive(neg_ll: Callable[[Array], float], n_params: int) -> tuple[Array, float, bool]:
    """Minimise ``neg_ll`` over positive parameters (optimised on their logarithms).

    Nelder-Mead from all-ones finds the basin robustly; L-BFGS-B then polishes.
    Deterministic: no random starts.
    """

    def on_log(z: Array) -> float:
        # The optimiser may step to parameters that overflow; those are simply bad points.
        with np.errstate(all="ignore"):
            v = neg_ll(np.exp(z))
        return v if np.isfinite(v) else 1e300

    start = np.zeros(n_params)
    nm = optimize.minimize(on_log, start, method="Nelder-Mead",
                           options={"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-10})
    polish = optimize.minimize(on_log, nm.x, method="L-BFGS-B")
    best = polish if polish.fun <= nm.fun else nm
    return np.exp(best.x), float(-best.fun), bool(best.success or nm.success)


def _standard_errors(neg_ll: Callable[[Array], float], params: Array) -> Array:
    try:
        with np.errstate(all="ignore"):
            cov = np.linalg.inv(_hessian(neg_ll, params))
            # A non-positive variance means the optimum is on a flat ridge: no standard error.
            se = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
    except np.linalg.LinAlgError:
        se = np.full(len(params), np.nan)
    return np.where(np.isfinite(se), se, np.nan)


@dataclass
class FitSummary:
    """What a fit reports: parameters, their standard errors, the log-likelihood."""

    model: str
    params: dict[str, float]
    standard_errors: dict[str, float]
    log_likelihood: float
    n: int
    converged: bool


class BetaGeoFitter:
    """BG/NBD (Fader, Hardie and Lee 2005, "Counting your customers the easy way").

    While alive a customer buys as a Poisson process of rate lambda ~ Gamma(r, alpha);
    after each purchase they drop out with probability p ~ Beta(a, b). For a
    customer with x repeat purchases, the last at t_x, observed for T time units:

        L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
          + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))

    Predictions (same paper): expected purchases in the next t units

        E[Y(t)] = (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x)
                  * 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
                  / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))

    and P(alive) = 1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)).
    """

    names = ("r", "alpha", "a", "b")

    def __init__(self) -> None:
        self.params_: dict[str, float] = {}
        self.standard_errors_: dict[str, float] = {}
        self.log_likelihood_: float = float("nan")
        self.n_: int = 0
        self.converged_: bool = False

    @staticmethod
    def log_likelihood(params: Array, x: Array, t_x: Array, T: Array) -> Array:
        """Per-customer log-likelihood at ``params`` = (r, alpha, a, b)."""
        r, alpha, a, b = params
        a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        a2 = special.betaln(a, b + x) - special.betaln(a, b)
        a3 = -(r + x) * np.log(alpha + T)
        repeat = x > 0
        # b + x - 1 > 0 whenever x > 0; the guard only avoids log(0) warnings for x = 0.
        a4 = np.where(
            repeat,
            np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
        return a1 + a2 + np.logaddexp(a3, a4)

    def fit(self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike) -> BetaGeoFitter:
        x, t_x, big_t = _arr(frequency), _arr(recency), _arr(T)
        if len(x) == 0:
            raise ValueError("BG/NBD needs at least one customer")

        def neg_ll(p: Array) -> float:
            return float(-self.log_likelihood(p, x, t_x, big_t).sum())

        params, ll, ok = _fit_positive(neg_ll, 4)
        se = _standard_errors(neg_ll, params)
        self.params_ = dict(zip(self.names, map(float, params), strict=True))
        self.standard_errors_ = dict(zip(self.names, map(float, se), strict=True))
        self.log_likelihood_, self.n_, self.converged_ = ll, len(x), ok
        return self

    def summary(self) -> FitSummary:
        return FitSummary("bgnbd", self.params_, self.standard_errors_, self.log_likelihood_, self.n_,
                          self.converged_)

    def _p(self) -> tuple[float, float, float, float]:
        if not self.params_:
            raise ValueError("fit the model first")
        return self.params_["r"], self.params_["alpha"], self.params_["a"], self.params_["b"]

    def _odds_dead(self, x: Array, t_x: Array, T: Array) -> Array:
        r, alpha, a, b = self._p()
        safe = np.where(x > 0, b + x - 1, 1.0)
        return np.where(x > 0, a / safe * np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + t_x))), 0.0)

    def probability_alive(self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike) -> Array:
        """P(still a customer at T | x, t_x, T)."""
        return 1.0 / (1.0 + self._odds_dead(_arr(frequency), _arr(recency), _arr(T)))

    def conditional_expected_purchases(
        self, t: float, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> Array:
        """Expected purchases in (T, T + t] for customers with history (x, t_x, T)."""
        r, alpha, a, b = self._p()
        x, t_x, big_t = _arr(frequency), _arr(recency), _arr(T)
        z = t / (alpha + big_t + t)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        head = (a + b + x - 1) / (a - 1)
        body = 1.0 - np.exp((r + x) * (np.log(alpha + big_t) - np.log(alpha + big_t + t))) * hyp
        return head * body / (1.0 + self._odds_dead(x, t_x, big_t))

    def expected_purchases_new(self, t: float) -> float:
        """Expected purchases in (0, t] of a customer just acquired: E[X(t)]."""
        r, alpha, a, b = self._p()
        hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return float((a + b - 1) / (a - 1) * (1.0 - (alpha / (alpha + t)) ** r * hyp))


class GammaGammaFitter:
    """Gamma-Gamma spend model (Fader, Hardie and Lee 2005, "RFM and CLV"; Fader and Hardie 2013).

    A customer's transaction values are Gamma(p, nu) with nu ~ Gamma(q, gamma)
    across customers. For a customer with x >= 1 repeat transactions of mean
    value zbar:

        f(zbar | x) = G(px+q) / (G(px) G(q)) * gamma^q x^(px) zbar^(px-1) / (gamma + x zbar)^(px+q)

    and the expected value of their future transactions is

        E[Z | x, zbar] = p (gamma + x zbar) / (px + q - 1)

    a weighted mean of the population mean p gamma / (q - 1) and zbar. Fit on
    repeat customers only (x > 0); the model assumes spend is independent of
    frequency (check :attr:`frequency_spend_correlation_`).
    """

    names = ("p", "q", "gamma")

    def __init__(self) -> None:
        self.params_: dict[str, float] = {}
        self.standard_errors_: dict[str, float] = {}
        self.log_likelihood_: float = float("nan")
        self.n_: int = 0
        self.converged_: bool = False
        self.frequency_spend_correlation_: float = float("nan")

    @staticmethod
    def log_likelihood(params: Array, x: Array, zbar: Array) -> Array:
        p, q, g = params
        px = p * x
        return (
            special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q)
            + q * np.log(g) + px * np.log(x) + (px - 1) * np.log(zbar) - (px + q) * np.log(g + x * zbar)
        )

    def fit(self, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> GammaGammaFitter:
        x, z = _arr(frequency), _arr(monetary_value)
        keep = (x > 0) & (z > 0)
        x, z = x[keep], z[keep]
        if len(x) < 2:
            raise ValueError("Gamma-Gamma needs at least two repeat customers with spend > 0")

        def neg_ll(p: Array) -> float:
            return float(-self.log_likelihood(p, x, z).sum())

        params, ll, ok = _fit_positive(neg_ll, 3)
        se = _standard_errors(neg_ll, params)
        self.params_ = dict(zip(self.names, map(float, params), strict=True))
        self.standard_errors_ = dict(zip(self.names, map(float, se), strict=True))
        self.log_likelihood_, self.n_, self.converged_ = ll, len(x), ok
        self.frequency_spend_correlation_ = float(np.corrcoef(x, z)[0, 1]) if np.std(x) > 0 else float("nan")
        return self

    def summary(self) -> FitSummary:
        return FitSummary("gamma_gamma", self.params_, self.standard_errors_, self.log_likelihood_, self.n_,
                          self.converged_)

    @property
    def population_mean(self) -> float:
        """Mean transaction value of a customer with no history: p gamma / (q - 1) (q > 1)."""
        p, q, g = self.params_["p"], self.params_["q"], self.params_["gamma"]
        return p * g / (q - 1) if q > 1 else float("nan")

    def conditional_expected_average_value(self, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> Array:
        """E[Z | x, zbar]; the population mean for customers with no repeat purchase."""
        if not self.params_:
            raise ValueError("fit the model first")
        p, q, g = self.params_["p"], self.params_["q"], self.params_["gamma"]
        x, z = _arr(frequency), _arr(monetary_value)
        z = np.where(x > 0, z, 0.0)
        return p * (g + x * z) / (p * x + q - 1)
