"""Customer health scores: a configurable model, explained per account, with history and a backtest.

- :mod:`~csmetrics.models.health.config`: the model declared in TOML (default: ``health_default.toml``);
- :mod:`~csmetrics.models.health.signals`: per-account signals as of one or many days (Ibis, point in time);
- :mod:`~csmetrics.models.health.score`: component scores, weighted score, colour, reasons;
- :mod:`~csmetrics.models.health.records`: scored accounts as JSON objects / CSV rows (SPEC section 7);
- :mod:`~csmetrics.models.health.backtest`: AUC, churn by colour, lift, calibration, suggested weights.

Docs: docs/health.md.
"""

from csmetrics.models.health.config import HealthConfig, config_for, load_config, parse_config, parse_horizon
from csmetrics.models.health.records import account_record
from csmetrics.models.health.score import (
    iter_score_history,
    last_data_day,
    score_accounts,
    score_history,
    score_signals,
)
from csmetrics.models.health.signals import compute_signals

__all__ = [
    "HealthConfig",
    "account_record",
    "compute_signals",
    "config_for",
    "iter_score_history",
    "last_data_day",
    "load_config",
    "parse_config",
    "parse_horizon",
    "score_accounts",
    "score_history",
    "score_signals",
]
