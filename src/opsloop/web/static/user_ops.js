// opsloop console: the user stages chart (data from <script type="application/json" id="stage-chart">).
(function () {
  "use strict";
  var node = document.getElementById("stage-chart");
  var area = document.getElementById("stage-chart-area");
  if (!node || !area || !window.Plotly) { return; }
  var chart = JSON.parse(node.textContent);
  var colours = { new: "#2456d3", active: "#17803d", resurrected: "#8e44ad", dormant: "#e0a100", churned: "#b42318" };
  var traces = chart.series.map(function (s) {
    return {
      x: chart.x, y: s.y, name: s.name, type: "bar", marker: { color: colours[s.stage] || "#888" },
      hovertemplate: "%{x}: %{y}<extra>" + s.name.replace(/</g, "&lt;") + "</extra>"
    };
  });
  window.Plotly.newPlot(area, traces, {
    barmode: "stack", height: 320, margin: { l: 50, r: 10, t: 10, b: 40 },
    legend: { orientation: "h", y: -0.18, traceorder: "normal" },
    xaxis: { type: "date", tickformat: "%Y-%m-%d" },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"
  }, { displayModeBar: false, responsive: true }).then(function () {
    area.setAttribute("data-drawn", "true");
  });
})();
