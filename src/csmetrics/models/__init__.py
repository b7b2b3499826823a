"""Fitted models over a Dataset: feedback themes, customer survival, probabilistic CLV.

- :mod:`csmetrics.models.feedback`: comment sentiment, themes, NPS impact, outliers
  (text models in :mod:`csmetrics.models.text`);
- :mod:`csmetrics.models.survival`: Kaplan-Meier curves and median lifetime (lifelines);
- :mod:`csmetrics.models.clv`: BG/NBD + Gamma-Gamma CLV on charges (fitters in
  :mod:`csmetrics.models.btyd`) and subscription CLV with the survival lifetime.

The backend computes the per-row inputs (Ibis); Python fits on the aggregated result.
"""

MISSING = "(none)"
"""Group label of accounts whose ``--by`` column is empty."""
