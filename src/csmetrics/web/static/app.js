/* csmetrics dashboard: draw Plotly charts from their JSON blocks; submit filter forms on change. */
(function () {
  "use strict";
  function draw(root) {
    if (!window.Plotly) { return; }
    (root || document).querySelectorAll("div.chart[data-fig]").forEach(function (el) {
      if (el.dataset.drawn) { return; }
      var src = document.getElementById(el.dataset.fig);
      if (!src) { return; }
      var fig = JSON.parse(src.textContent);
      el.dataset.drawn = "1";
      window.Plotly.newPlot(el, fig.data, fig.layout, { responsive: true, displaylogo: false });
    });
  }
  // The page shown while the server warms up asks to be loaded again (data-reload-after seconds).
  function reloadLater(root) {
    var el = (root || document).querySelector("[data-reload-after]");
    if (!el || el.dataset.scheduled) { return; }
    el.dataset.scheduled = "1";
    window.setTimeout(function () { window.location.reload(); }, 1000 * Number(el.dataset.reloadAfter || 2));
  }
  function ready() {
    draw(document);
    reloadLater(document);
    document.body.setAttribute("data-ready", "1");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
  document.addEventListener("htmx:load", function (e) { draw(e.target); });
  document.addEventListener("htmx:afterSettle", function () { draw(document); reloadLater(document); });
  document.addEventListener("change", function (e) {
    var form = e.target.closest && e.target.closest("form[data-autosubmit]");
    if (!form || e.target.type === "search") { return; }
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  });
})();
