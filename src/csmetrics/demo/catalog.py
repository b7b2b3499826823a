"""The fixed vocabulary of the demo company: people, plans, features and comment texts.

Everything random in the generator indexes into these tuples, so the text of
the data is plain English and the planted themes are easy to find.
"""

from __future__ import annotations

import itertools

SEGMENTS = ("smb", "mid_market", "enterprise")
SEGMENT_SHARE = (0.62, 0.28, 0.10)

# ~8 CSMs with human names. The last one is the planted "bad book" (PLANTED["bad_csm"]).
CSMS = (
    "Alice Moreau",
    "Ben Okafor",
    "Chloe Tanaka",
    "David Reyes",
    "Emma Lindqvist",
    "Farid Haddad",
    "Grace Kim",
    "Henry Walsh",
)
BAD_CSM = "Henry Walsh"

AGENTS = (
    "Ana Silva", "Tom Becker", "Priya Nair", "Lucas Martin", "Sara Cohen",
    "Kenji Mori", "Olivia Brown", "Mateo Rossi", "Nora Jensen", "Yusuf Demir",
)
CHANNELS = ("email", "chat", "phone", "web")
CHANNEL_SHARE = (0.45, 0.30, 0.15, 0.10)

REGIONS = ("north_america", "emea", "apac", "latam")
REGION_SHARE = (0.48, 0.32, 0.12, 0.08)
# Share of EMEA accounts billed in EUR (0.32 * 0.47 ~ 15% of all accounts).
EUR_SHARE_IN_EMEA = 0.47

INDUSTRIES = (
    "software", "healthcare", "financial_services", "retail", "manufacturing",
    "education", "media", "logistics", "professional_services", "nonprofit",
)

# Plan tiers in upgrade order, with a monthly list price (USD) per unit.
PLANS = ("starter", "team", "growth", "business", "scale", "enterprise", "enterprise_plus")
PLAN_PRICE = (49.0, 99.0, 249.0, 499.0, 999.0, 2499.0, 4999.0)
# Lowest tier a new account of each segment starts on (it may start up to 2 tiers higher).
SEGMENT_FIRST_TIER = (0, 2, 4)
EUR_PRICE_FACTOR = 0.92  # EUR list prices are the USD ones times this, rounded

INTERVALS = ("month", "quarter", "year")
INTERVAL_MONTHS = (1, 3, 12)
# Contract interval mix per segment (month, quarter, year).
SEGMENT_INTERVAL_SHARE = ((0.72, 0.13, 0.15), (0.40, 0.20, 0.40), (0.08, 0.12, 0.80))

# Product feature catalogue, most popular first.
FEATURES = (
    "dashboards", "reports", "alerts", "integrations", "exports", "segments",
    "automations", "api", "playbooks", "health_scores", "surveys", "mobile_app",
)
FEATURE_POPULARITY = (1.0, 0.9, 0.75, 0.6, 0.55, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15)

CHARGE_KINDS = ("upsell", "cross_sell", "add_on", "loyalty", "purchase", "other")
CHARGE_KIND_SHARE = (0.18, 0.14, 0.30, 0.10, 0.22, 0.06)
# Typical amount (USD) of a one-off charge per kind, before the segment factor.
CHARGE_KIND_AMOUNT = (400.0, 300.0, 150.0, 60.0, 250.0, 90.0)

COST_CATEGORIES = ("payroll", "programs", "services", "training", "marketing", "tools")
# Monthly cost (USD) per category for a 2,000-account company; scaled by size.
COST_BASE = (72000.0, 6000.0, 9000.0, 3000.0, 5000.0, 4000.0)

_ADJ = ("Blue", "Bright", "Cedar", "North", "Silver", "Rapid", "Quiet", "Golden", "Summit", "Harbor",
        "Iron", "Maple", "Coral", "Nova", "Pioneer", "Granite", "Lumen", "Atlas", "Clear", "Red")
_NOUN = ("River", "Peak", "Field", "Stone", "Bridge", "Wave", "Pine", "Falcon", "Orchard", "Lake",
         "Beacon", "Harvest", "Forge", "Meadow", "Signal", "Compass", "Anchor", "Vista", "Crest", "Grove")
_SUFFIX = ("Labs", "Systems", "Health", "Logistics", "Partners", "Retail", "Analytics", "Group",
           "Studios", "Foods", "Capital", "Works", "Networks", "Academy", "Energy")
COMPANY_NAMES = tuple(f"{a} {n} {s}" for a, n, s in itertools.product(_ADJ, _NOUN, _SUFFIX))

# -- comments ---------------------------------------------------------------
# Complaint themes and the key phrases every complaint of that theme contains.
THEME_KEYWORDS: dict[str, tuple[str, ...]] = {
    "billing": ("invoice", "charged twice", "refund"),
    "performance": ("slow", "loading", "timeout"),
    "onboarding": ("setup", "documentation", "confusing"),
    "support": ("response time", "waiting", "no answer"),
}
THEMES = tuple(THEME_KEYWORDS)
# Share of each theme among complaints, in THEMES order.
THEME_SHARE = (0.25, 0.35, 0.20, 0.20)

COMPLAINTS: dict[str, tuple[str, ...]] = {
    "billing": (
        "We were charged twice this month and still have no refund.",
        "The invoice was wrong again and getting a refund took weeks.",
        "Billing is a mess: the invoice never matches what we agreed.",
        "I was charged twice for the same seats, please fix the invoice.",
        "Our invoice keeps changing and nobody explains the extra charges.",
        "Still no refund after being charged twice last month.",
    ),
    "performance": (
        "The app is slow and dashboards keep loading forever.",
        "Reports time out constantly, the timeout errors block our team.",
        "Everything is slow since the last release, pages take ages loading.",
        "Loading a simple report takes a minute, it is far too slow.",
        "We hit a timeout every time we export data.",
        "The product is slow and the loading spinner is all we see.",
    ),
    "onboarding": (
        "The setup was confusing and the documentation did not help.",
        "Onboarding took too long, the setup steps are confusing.",
        "The documentation is outdated and the setup is confusing.",
        "Setup of the integrations was confusing and poorly documented, the documentation is thin.",
        "We struggled with the initial setup, the documentation is hard to follow.",
        "Confusing setup, we needed three calls to get started because the documentation is missing steps.",
    ),
    "support": (
        "Support response time is terrible, we keep waiting for days.",
        "We opened a ticket and got no answer for a week.",
        "Waiting three days for a reply is not acceptable, the response time is poor.",
        "No answer from support on an urgent issue, still waiting.",
        "The response time of support has gotten worse, lots of waiting.",
        "Support left us waiting and the ticket had no answer.",
    ),
}

PRAISE = (
    "Easy to use and the team adopted it quickly.",
    "Great support, they solved our issue in minutes.",
    "We love the dashboards, they save us hours every week.",
    "Really easy to use, great support and we love the dashboards.",
    "Great support team, always friendly and fast.",
    "Love the dashboards and the reports, easy to use for everyone.",
    "The product is easy to use and our managers love the dashboards.",
    "Great support and a product that just works.",
)
PRAISE_KEYWORDS = ("easy to use", "great support", "love the dashboards")

NEUTRAL = (
    "Good overall, a few features are still missing.",
    "Does the job. Would like more customisation of reports.",
    "Fine for our needs, pricing could be clearer.",
    "Solid product, the mobile app needs work.",
    "Mostly happy, looking forward to the new roadmap.",
    "It works well enough for our team.",
)

# Planted outliers: the score says one thing and the comment clearly the opposite.
OUTLIER_NEGATIVE = (
    "Terrible experience, this is the worst tool we have ever used and we are cancelling.",
    "Awful. Nothing works, support ignored us and I regret buying it.",
)
OUTLIER_POSITIVE = (
    "Absolutely fantastic product, the best tool we have ever used, thank you!",
    "Wonderful team and an excellent product, we are delighted.",
)

# One flat tuple of every comment; rows hold an index into it (no per-row string work).
COMMENTS: tuple[str, ...] = (
    tuple(c for t in THEMES for c in COMPLAINTS[t]) + PRAISE + NEUTRAL + OUTLIER_NEGATIVE + OUTLIER_POSITIVE
)


def _offsets() -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    i = 0
    for t in THEMES:
        out[t] = (i, len(COMPLAINTS[t]))
        i += len(COMPLAINTS[t])
    for name, group in (("praise", PRAISE), ("neutral", NEUTRAL), ("outlier_negative", OUTLIER_NEGATIVE),
                        ("outlier_positive", OUTLIER_POSITIVE)):
        out[name] = (i, len(group))
        i += len(group)
    return out


# (first index in COMMENTS, count) per comment group.
COMMENT_GROUPS = _offsets()
