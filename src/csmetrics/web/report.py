"""``csmetrics report``: a self-contained static HTML export of the overview, revenue and retention pages.

The file inlines its CSS, Plotly (from the installed package) and the small
chart loader, so it opens offline and can be mailed around; it has no filters
or links back to a server.
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from csmetrics import clock
from csmetrics.web.app import PLOTLY_JS, WEB, templates
from csmetrics.web.data import Filters, check_segment
from csmetrics.web.pages import overview_context, retention_context, revenue_context
from csmetrics.web.store import Store


def _script(text: str) -> Markup:
    # A literal "</script" would end the inline element early.
    return Markup(text.replace("</script", "<\\/script"))  # noqa: S704 - trusted package files


def render_report(store: Store, f: Filters | None = None) -> str:
    """The report as one HTML string."""
    f = f or Filters()
    check_segment(store, f.segment)  # an unknown segment is an error, not an all-zero report
    env = templates().env
    units = {}
    from csmetrics.registry import load_all

    units = {m.name: m.unit for m in load_all().values()}
    common = {"f": f, "static": True, "units": units, "qs": ""}

    def part(name: str, ctx: dict[str, object]) -> Markup:
        return Markup(env.get_template(name).render(**common, **ctx))  # noqa: S704 - autoescaped template output

    html = env.get_template("report.html").render(
        f=f,
        source=Path(store.ds.source).name,
        generated=clock.now().strftime("%Y-%m-%d %H:%M UTC"),
        css=Markup((WEB / "static" / "app.css").read_text(encoding="utf-8")),  # noqa: S704
        plotly_js=_script(PLOTLY_JS.read_text(encoding="utf-8")),
        app_js=_script((WEB / "static" / "app.js").read_text(encoding="utf-8")),
        overview_html=part("_overview.html", overview_context(store, f)),
        revenue_html=part("_revenue.html", revenue_context(store, f, None)),
        retention_html=part("_retention.html", retention_context(store, f)),
    )
    return html


def write_store_report(store: Store, out: Path, f: Filters | None = None) -> Path:
    """Render the report of ``store`` into ``out``, then close the store."""
    try:
        html = render_report(store, f)
    finally:
        store.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def write_report(workspace: Path, out: Path, f: Filters | None = None) -> Path:
    """Render the report of ``workspace`` into ``out`` (read-only access to the workspace)."""
    return write_store_report(Store(workspace, read_only=True), out, f)
