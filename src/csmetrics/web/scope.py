"""What one role may see: every account (admin, viewer) or one CSM's book (``csm:NAME``).

Scope is applied once, to the data: :func:`scoped_dataset` turns the
workspace's :class:`~csmetrics.io.dataset.Dataset` into the same tables
limited to the book (accounts whose ``csm`` is NAME, and the rows of every
account table whose ``account_id`` is one of them, by a semi-join), and the
server's result cache is keyed by scope (see :class:`csmetrics.web.store.View`).
Every page, API endpoint, export, explanation and survey link reads through it,
so a CSM's metric values are their book's values (not the company's), their
group lists (``by=csm``, the segment and CSM filters) hold only their own, and
another book's account is "not found" exactly like an account that does not
exist.

Company-level tables that belong to no account (``costs``) are left out of a
book: a CSM's dataset has no costs, so the cost metrics (customer retention
cost and the like) are "not available" for them. ``fx_rates`` is kept (it
converts their own charges).

Worked example (tests/web/test_roles.py): accounts A1 (csm Ann, MRR 100) and
B1 (csm Bob, MRR 200); ``csm:Ann`` sees MRR 100, one active customer, and a
404 for ``/api/v1/accounts/B1``; admin and viewer see MRR 300.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis

from csmetrics.io.dataset import Dataset
from csmetrics.web import auth

KEPT_COMPANY_TABLES = ("fx_rates",)
"""Tables without account_id that a book keeps (everything else without account_id is company-level: hidden)."""


@dataclass(frozen=True)
class Scope:
    """A role's view: ``csm`` None reads every account."""

    role: str
    csm: str | None = None

    @classmethod
    def of(cls, role: str) -> Scope:
        return cls(role, auth.role_csm(role))

    @property
    def is_admin(self) -> bool:
        return self.role == auth.ADMIN

    @property
    def key(self) -> tuple[str, str] | None:
        """What the result cache is keyed by: None for the whole company (admin and viewer see the same)."""
        return None if self.csm is None else ("csm", self.csm)


ADMIN = Scope(auth.ADMIN)
VIEWER = Scope(auth.VIEWER)


def scoped_dataset(ds: Dataset, csm: str) -> Dataset:
    """``ds`` limited to the book of ``csm``: its accounts and their rows; company-level tables left out."""
    acc = ds.table("accounts")
    acc = acc.filter(acc.csm == csm) if "csm" in acc.columns else acc.filter(ibis.literal(False))
    ids = acc.account_id
    tables = {"accounts": acc}
    for name, t in ds.tables.items():
        if name == "accounts":
            continue
        if "account_id" in t.columns:
            tables[name] = t.filter(t.account_id.isin(ids))
        elif name in KEPT_COMPANY_TABLES:
            tables[name] = t
    # workspace=None: the per-period result cache next to the workspace file (csmetrics.cache) holds the
    # company's figures; a book must neither read them nor write its own there.
    return Dataset(ds.backend, tables, ds.config, ds.source, ds.extra_columns, workspace=None)
