"""Survey scores: NPS with its margin of error, CSAT and CES (SPEC section 6)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from csmetrics.metrics.common import count_if, pick, ratio
from csmetrics.metrics.context import PeriodContext
from csmetrics.registry import metric

NEEDS = ("survey_responses",)


def survey_agg(ctx: PeriodContext) -> ir.Table:
    def build() -> ir.Table:
        cfg = ctx.ds.config
        r = ctx.bucket("survey_responses", "responded_at")
        nps, csat, ces = r.survey == "nps", r.survey == "csat", r.survey == "ces"
        agg = r.group_by(["period", "group"]).aggregate(
            nps_n=count_if(nps),
            promoters=count_if(nps & (r.score >= 9)),
            detractors=count_if(nps & (r.score <= 6)),
            csat_n=count_if(csat),
            csat_pos=count_if(csat & (r.score >= cfg.csat_positive_min)),
            ces_n=count_if(ces),
            ces_pos=count_if(ces & (r.score >= 5)),
        )
        return ctx.complete(agg, {c: 0 for c in agg.columns if c not in ("period", "group")})

    return ctx.memo("survey_agg", build)


@metric("nps_responses", "count", NEEDS, additive=True)
def nps_responses(ctx: PeriodContext) -> ir.Table:
    """NPS answers received in the period."""
    return pick(survey_agg(ctx), "nps_n")


@metric("nps", "score", NEEDS)
def nps(ctx: PeriodContext) -> ir.Table:
    """Net Promoter Score: 100 x (promoters - detractors) / responses, over NPS answers in the period.

    Promoter 9-10, passive 7-8, detractor 0-6. Range -100..100; null with no answer.
    """
    a = survey_agg(ctx)
    return a.select("period", "group", "idx", value=ratio(a.promoters - a.detractors, a.nps_n, 100.0))


@metric("nps_margin_of_error", "score", NEEDS)
def nps_margin_of_error(ctx: PeriodContext) -> ir.Table:
    """95% half-width of the NPS: 1.96 x 100 x sqrt((p + d - (p - d)^2) / n).

    p and d are the promoter and detractor shares, n the number of answers. Null with no answer.
    """
    a = survey_agg(ctx)
    p = ratio(a.promoters, a.nps_n)
    d = ratio(a.detractors, a.nps_n)
    var = (p + d - (p - d) ** 2) / a.nps_n.cast("float64")
    # Guard tiny negative rounding before the square root.
    var = ibis.greatest(var, ibis.literal(0.0))
    return a.select("period", "group", "idx", value=1.96 * 100.0 * var.sqrt())


@metric("csat_responses", "count", NEEDS, additive=True)
def csat_responses(ctx: PeriodContext) -> ir.Table:
    """CSAT answers received in the period."""
    return pick(survey_agg(ctx), "csat_n")


@metric("csat", "score", NEEDS)
def csat(ctx: PeriodContext) -> ir.Table:
    """Customer satisfaction: 100 x CSAT answers scoring >= csat_positive_min / CSAT answers.

    Scale 1..csat_scale_max (default 1-5, positive from 4; csmetrics.toml). Seed: 40 / 50 = 80.
    """
    a = survey_agg(ctx)
    return a.select("period", "group", "idx", value=ratio(a.csat_pos, a.csat_n, 100.0))


@metric("ces_responses", "count", NEEDS, additive=True)
def ces_responses(ctx: PeriodContext) -> ir.Table:
    """CES answers received in the period."""
    return pick(survey_agg(ctx), "ces_n")


@metric("ces", "score", NEEDS)
def ces(ctx: PeriodContext) -> ir.Table:
    """Customer effort score: 100 x CES answers scoring 5, 6 or 7 (scale 1-7) / CES answers."""
    a = survey_agg(ctx)
    return a.select("period", "group", "idx", value=ratio(a.ces_pos, a.ces_n, 100.0))
