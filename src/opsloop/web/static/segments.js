// opsloop console: the segment size charts (list and segment page) and the catalogue's background refresh
// status (data from <script type="application/json">). Every page works without it.
(function () {
  "use strict";

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  // -- charts ------------------------------------------------------------------------------------------------

  var config = { displayModeBar: false, responsive: true };
  var sparks = data("segment-sparks");
  if (sparks && window.Plotly) {
    document.querySelectorAll(".sparkline[data-segment]").forEach(function (node) {
      var s = sparks[node.getAttribute("data-segment")];
      if (!s || !s.x.length) { return; }
      window.Plotly.newPlot(node, [{
        x: s.x, y: s.y, type: "scatter", mode: s.x.length > 1 ? "lines" : "markers",
        line: { color: "#2456d3", width: 2 }, fill: "tozeroy", fillcolor: "rgba(36,86,211,.12)", hovertemplate: "%{x}: %{y}<extra></extra>"
      }], {
        height: 36, width: 160, margin: { l: 0, r: 0, t: 2, b: 2 }, showlegend: false,
        xaxis: { visible: false }, yaxis: { visible: false, rangemode: "tozero" },
        paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"
      }, config);
    });
  }
  // A date axis; a single refresh is shown in the middle of a two-day window (not on a millisecond scale).
  function xaxis(x) {
    var axis = { type: "date", tickformat: "%m-%d %H:%M" };
    var first = new Date(x[0]).getTime();
    var last = new Date(x[x.length - 1]).getTime();
    if (last - first < 3600000) {
      axis.range = [new Date(first - 86400000).toISOString(), new Date(last + 86400000).toISOString()];
      axis.tickformat = "%Y-%m-%d";
      axis.dtick = 86400000;
    }
    return axis;
  }
  var history = data("segment-history");
  var historyNode = document.getElementById("size-history");
  if (history && historyNode && history.x.length && window.Plotly) {
    window.Plotly.newPlot(historyNode, [{
      x: history.x, y: history.y, type: "scatter", mode: "lines+markers", line: { color: "#2456d3", width: 2 },
      hovertemplate: "%{x|%Y-%m-%d %H:%M}: %{y:,}<extra></extra>"
    }], {
      height: 180, margin: { l: 50, r: 10, t: 10, b: 30 }, showlegend: false,
      yaxis: { rangemode: "tozero" }, xaxis: xaxis(history.x),
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"
    }, config);
    historyNode.setAttribute("data-drawn", "true");
  }

  // -- the catalogue's background refresh ----------------------------------------------------------------------

  var status = document.getElementById("catalogue-status");
  if (status && status.getAttribute("data-running") === "true") {
    var poll = function () {
      fetch(status.getAttribute("data-status-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (body) { if (body.running) { setTimeout(poll, 2000); } else { window.location.reload(); } })
        .catch(function () { setTimeout(poll, 5000); });
    };
    setTimeout(poll, 2000);
  }
})();
