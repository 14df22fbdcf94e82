// opsloop console: charts of the feedback themes and survey results pages (data from <script type="application/json">).
(function () {
  "use strict";
  if (!window.Plotly) { return; }
  var config = { displayModeBar: false, responsive: true, staticPlot: false };

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  // Weekly item counts of each theme as a small line.
  var trends = data("theme-trends");
  if (trends) {
    document.querySelectorAll(".sparkline[data-theme]").forEach(function (el) {
      var t = trends[el.getAttribute("data-theme")];
      if (!t || !t.x.length) { return; }
      window.Plotly.newPlot(el, [{
        x: t.x, y: t.y, type: "scatter", mode: t.x.length > 1 ? "lines" : "markers",
        line: { color: "#2456d3", width: 2 }, fill: "tozeroy", fillcolor: "rgba(36,86,211,.12)",
        hovertemplate: "%{x}: %{y}<extra></extra>"
      }], {
        height: 60, margin: { l: 0, r: 0, t: 4, b: 4 }, showlegend: false,
        xaxis: { visible: false }, yaxis: { visible: false, range: [0, Math.max.apply(null, t.y) * 1.25] },
        paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"
      }, config);
    });
  }

  // NPS / CSAT per week with its 95% interval as a band.
  var charts = data("survey-charts");
  if (charts) {
    document.querySelectorAll(".chart[data-question]").forEach(function (el) {
      var c = charts[el.getAttribute("data-question")];
      if (!c) { return; }
      var band = el.getAttribute("data-band") || "";
      var label = el.getAttribute("data-label") || "";
      var isNps = c.kind === "nps";
      window.Plotly.newPlot(el, [
        { x: c.x, y: c.high, type: "scatter", mode: "lines", line: { width: 0 }, hoverinfo: "skip", showlegend: false },
        { x: c.x, y: c.low, type: "scatter", mode: "lines", line: { width: 0 }, fill: "tonexty",
          fillcolor: "rgba(36,86,211,.15)", name: band, hoverinfo: "skip" },
        { x: c.x, y: c.y, type: "scatter", mode: "lines+markers", name: label, line: { color: "#2456d3", width: 2 } }
      ], {
        height: 240, margin: { l: 40, r: 10, t: 10, b: 40 }, showlegend: true,
        legend: { orientation: "h", y: -0.25 },
        yaxis: { range: isNps ? [-105, 105] : [-3, 103], zeroline: true, ticksuffix: isNps ? "" : "%" },
        xaxis: { type: "date", tickformat: "%Y-%m-%d" },
        paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"
      }, config);
    });
  }
})();
