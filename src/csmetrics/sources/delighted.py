"""``csmetrics import delighted FILE``: Delighted's CSV export of NPS responses (docs/usage-and-surveys.md).

The mapping rules (S1-S6) are those of every survey tool's CSV export, in
:mod:`csmetrics.sources.surveycsv`; Delighted's headers are
:data:`csmetrics.sources.surveycsv.DELIGHTED`. Settings: ``[sources.delighted]
account_property = "Company ID"`` (a person property column holding the
account id), else the e-mail domain matched against the accounts column
``domain_column`` (default ``domain``).
"""

from __future__ import annotations

from csmetrics.sources.surveycsv import DELIGHTED, SurveyCsvConnector

CONNECTOR = SurveyCsvConnector(DELIGHTED)

__all__ = ["CONNECTOR"]
