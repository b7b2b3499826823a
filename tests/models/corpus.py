"""A fixed corpus of survey comments with known themes, written for the tests.

Forty comments: eight each about billing, performance, onboarding and
support (complaints), and eight of general praise. Phrasing varies the way
real comments do; each theme has its own vocabulary only loosely.
"""

from __future__ import annotations

BILLING = [
    "We were charged twice this month and the invoice still shows the wrong amount.",
    "The invoice was wrong again, billing charged us for seats we removed.",
    "Billing is a mess: double charged on the credit card and no refund yet.",
    "Why did the price go up without notice? The invoice is confusing and billing never explains it.",
    "Got charged for a plan we cancelled, still waiting on a refund from billing.",
    "The invoice PDF lists the wrong tax and the wrong billing address.",
    "Unexpected charge on our card, the invoice amount does not match the quote.",
    "Billing overcharged us and the refund took three weeks.",
]

PERFORMANCE = [
    "The dashboard is painfully slow, pages take forever to load.",
    "Reports time out and the app is so slow it is unusable at month end.",
    "Very slow loading, every page load takes ten seconds.",
    "The app keeps crashing and loading the dashboard is slow.",
    "Slow, slow, slow. Pages load so slowly that my team gave up.",
    "Search is slow and the export times out on large reports.",
    "Performance has degraded, the dashboard takes a minute to load.",
    "Frequent timeouts and slow page loads make it hard to use.",
]

ONBOARDING = [
    "Onboarding was confusing, the setup guide skipped half the steps.",
    "Setup took weeks; the onboarding documentation is outdated.",
    "No one walked us through onboarding and the setup wizard is confusing.",
    "The onboarding process is too long and the training videos are outdated.",
    "Getting started was hard, the setup documentation is missing steps.",
    "Our new users struggle with setup, onboarding needs a proper guide.",
    "Onboarding felt rushed and the setup checklist was confusing.",
    "The documentation for setup and onboarding is incomplete and confusing.",
]

SUPPORT = [
    "Support took five days to answer my ticket.",
    "I opened a ticket and support never replied.",
    "Support agents close the ticket without fixing the issue.",
    "Waited a week for support to respond to a critical ticket.",
    "The support team keeps asking the same questions, my ticket is still open.",
    "Support response time is terrible, nobody answers the ticket.",
    "Support escalated my ticket and then nobody followed up.",
    "Slow support replies, the ticket sat unanswered for days.",
]

PRAISE = [
    "Love it! Great product, my team recommends it to everyone.",
    "Great tool, we love it and would recommend it.",
    "Excellent product, love how easy it is, highly recommend.",
    "Fantastic experience overall, great value, we love it.",
    "Really great product, the team loves it.",
    "Absolutely love it, great features and great value.",
    "Great experience, highly recommend it to other teams.",
    "We love the product, excellent and easy to use. Recommend!",
]

THEMES: dict[str, list[str]] = {
    "billing": BILLING,
    "performance": PERFORMANCE,
    "onboarding": ONBOARDING,
    "support": SUPPORT,
    "praise": PRAISE,
}
"""Theme name -> its comments; the name is expected among the theme's label terms
(praise: one of love, great, recommend)."""

LABEL_WORDS: dict[str, set[str]] = {
    "billing": {"billing", "invoice", "charged", "refund"},
    "performance": {"slow", "load", "dashboard", "pages", "loading"},
    "onboarding": {"onboarding", "setup", "documentation", "confusing"},
    "support": {"support", "ticket"},
    "praise": {"love", "great", "recommend"},
}
