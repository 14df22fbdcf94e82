// Dashboard tiles: run each tile's insight (fetch, over the dashboard's date range when one is chosen) and draw
// it: the insight page's figure for paths (Sankey), funnels and retention, lines over dates, stacked bars for
// lifecycle, bars for labelled values, otherwise a table that says it is one. Every text goes in through
// textContent or Plotly (escaped).
(function () {
  "use strict";
  var textBlock = document.getElementById("tile-text");
  if (!textBlock) { return; }
  var text = JSON.parse(textBlock.textContent);
  var MAX_LINES = 10;
  var layoutBase = {
    margin: { l: 40, r: 10, t: 10, b: 30 }, height: 220, showlegend: true,
    legend: { orientation: "h", y: -0.2, font: { size: 10 } },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: { size: 11 }
  };

  function isNumber(v) { return typeof v === "number" && isFinite(v); }

  function columnsOf(rows) {
    var numeric = [], labels = [];
    Object.keys(rows[0]).forEach(function (key) {
      if (key === "date") { return; }
      var values = rows.map(function (r) { return r[key]; }).filter(function (v) { return v !== null && v !== undefined; });
      if (values.length && values.every(isNumber)) { numeric.push(key); }
      else if (values.length && values.every(function (v) { return typeof v === "string" || typeof v === "boolean"; })) { labels.push(key); }
    });
    return { numeric: numeric, labels: labels };
  }

  // The first of the preferred names present, else the first column.
  function pick(columns, preferred) {
    for (var i = 0; i < preferred.length; i++) { if (columns.indexOf(preferred[i]) >= 0) { return preferred[i]; } }
    return columns[0];
  }

  function timeSeries(rows, cols) {
    var traces = {}, order = [];
    rows.forEach(function (row) {
      var key = cols.labels.map(function (k) { return row[k]; }).filter(function (v) { return v !== null && v !== "" && v !== undefined; }).join(" · ");
      cols.numeric.forEach(function (column) {
        var name = (key ? key : "") + (cols.numeric.length > 1 ? (key ? " · " : "") + column : "");
        if (!traces[name]) {
          if (order.length >= MAX_LINES) { return; }
          traces[name] = { x: [], y: [], name: name || column, type: "scatter", mode: "lines+markers", marker: { size: 4 } };
          order.push(name);
        }
        traces[name].x.push(row.date);
        traces[name].y.push(row[column]);
      });
    });
    return order.map(function (n) { return traces[n]; });
  }

  function table(container, rows) {
    var note = document.createElement("p");
    note.className = "table-note";
    note.textContent = text.table;
    var tableEl = document.createElement("table");
    var keys = Object.keys(rows[0]).slice(0, 8);
    var head = tableEl.createTHead().insertRow();
    keys.forEach(function (k) { var th = document.createElement("th"); th.textContent = k; head.appendChild(th); });
    var body = tableEl.createTBody();
    rows.slice(0, 12).forEach(function (row) {
      var tr = body.insertRow();
      keys.forEach(function (k) {
        var v = row[k];
        tr.insertCell().textContent = v === null || v === undefined ? "" : (typeof v === "object" ? JSON.stringify(v) : String(v));
      });
    });
    container.appendChild(note);
    container.appendChild(tableEl);
  }

  // Paths (Sankey), funnels (bars with conversion) and retention (heat map): the insight page's own figure,
  // made by the server (web/console/insight_charts.py, names escaped there), sized for a tile.
  var FIGURE_SIZES = { paths: 340, funnel: 260 };
  function figure(container, answer) {
    var layout = Object.assign({}, answer.figure.layout, {
      // A heat map grows with its cohorts (as on the insight page), up to a tile's worth.
      height: answer.kind === "retention" ? Math.min(Math.max(answer.figure.layout.height || 0, 260), 480)
        : FIGURE_SIZES[answer.kind] || layoutBase.height,
      font: Object.assign({}, answer.figure.layout.font, { size: 11 })
    });
    if (answer.kind === "paths") { layout.margin = { l: 8, r: 8, t: 8, b: 8 }; }
    else if (answer.kind === "retention") { layout.margin = { l: 130, r: 10, t: 30, b: 10 }; }
    else { layout.margin = { l: 44, r: 10, t: 24, b: 56 }; }
    window.Plotly.newPlot(container, answer.figure.data, layout, { displayModeBar: false, responsive: true });
  }

  // A line above a tile's chart (once), e.g. that the dashboard's dates do not apply to it.
  function note(tile, message) {
    if (tile.querySelector(".tile-note")) { return; }
    var p = document.createElement("p");
    p.className = "tile-note";
    p.textContent = message;
    tile.insertBefore(p, tile.querySelector(".tile-chart"));
  }

  function draw(container, answer) {
    var rows = answer.rows || [];
    container.textContent = "";
    if (answer.own_dates) { note(container.parentNode, text.own_dates); }
    if (!rows.length) { container.textContent = text.empty; return; }
    if (window.Plotly && answer.figure) { figure(container, answer); return; }
    var cols = columnsOf(rows);
    if (window.Plotly && "date" in rows[0] && cols.numeric.length) {
      if (answer.kind === "lifecycle") {
        var bars = timeSeries(rows, cols).map(function (t) { t.type = "bar"; delete t.mode; return t; });
        window.Plotly.newPlot(container, bars, Object.assign({}, layoutBase, { barmode: "relative" }),
          { displayModeBar: false, responsive: true });
        return;
      }
      window.Plotly.newPlot(container, timeSeries(rows, cols), layoutBase, { displayModeBar: false, responsive: true });
      return;
    }
    var label = pick(cols.labels, ["label", "event", "name", "breakdown_value"]);
    var measure = pick(cols.numeric.filter(function (c) { return ["step", "position", "index"].indexOf(c) < 0; }),
      ["count", "value", "persons", "total"]);
    if (window.Plotly && label && measure && rows.length <= 60) {
      var trace = {
        x: rows.map(function (r) { return String(r[label]); }), y: rows.map(function (r) { return r[measure]; }),
        name: measure, type: "bar", marker: { color: "#2456d3" }, text: rows.map(function (r) { return r[measure]; }),
        textposition: "auto"
      };
      var layout = Object.assign({}, layoutBase, { showlegend: false, xaxis: { type: "category" } });
      window.Plotly.newPlot(container, [trace], layout, { displayModeBar: false, responsive: true });
      return;
    }
    table(container, rows);
  }

  function load(container) {
    container.classList.add("loading");
    container.textContent = text.loading;
    fetch(container.getAttribute("data-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        // A signed-out session or a proxy error answers HTML: say which status it was.
        return response.json()
          .catch(function () { return { detail: "HTTP " + response.status }; })
          .then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        container.classList.remove("loading");
        if (!answer.ok) { throw new Error(answer.body.detail || "error"); }
        draw(container, answer.body);
        container.setAttribute("data-drawn", "true");
      })
      .catch(function (error) {
        container.classList.remove("loading");
        container.textContent = text.failed + " " + error.message;
        container.setAttribute("data-drawn", "error");
      });
  }

  function start() { document.querySelectorAll(".tile-chart[data-url]").forEach(load); }
  if (document.readyState === "complete") { start(); } else { window.addEventListener("load", start); }
})();
