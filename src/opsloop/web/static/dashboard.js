// Dashboard tiles: run each tile's insight (fetch) and draw it: lines over dates, bars for labelled values,
// otherwise a table that says it is one. Every text goes in through textContent or Plotly (escaped).
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

  // Retention: cohorts (rows) by period (columns), the share of each cohort that came back, as a heat map.
  function retention(container, rows) {
    var dates = [], periods = [], cells = {};
    rows.forEach(function (r) {
      if (dates.indexOf(r.date) < 0) { dates.push(r.date); }
      if (periods.indexOf(r.period) < 0) { periods.push(r.period); }
      cells[r.date + "|" + r.period] = r.size ? Math.round(r.count / r.size * 1000) / 10 : null;
    });
    var z = dates.map(function (d) { return periods.map(function (p) { var v = cells[d + "|" + p]; return v === undefined ? null : v; }); });
    window.Plotly.newPlot(container, [{
      type: "heatmap", x: periods.map(String), y: dates, z: z, colorscale: "Blues", reversescale: true,
      zmin: 0, zmax: 100, text: z.map(function (row) { return row.map(function (v) { return v === null ? "" : Math.round(v) + "%"; }); }),
      texttemplate: "%{text}", hovertemplate: "%{y} +%{x}: %{z}%<extra></extra>",
      colorbar: { ticksuffix: "%", thickness: 8 }
    }], Object.assign({}, layoutBase, { showlegend: false, yaxis: { autorange: "reversed", type: "category" },
      xaxis: { type: "category" }, margin: { l: 80, r: 10, t: 10, b: 30 } }), { displayModeBar: false, responsive: true });
  }

  function draw(container, answer) {
    var rows = answer.rows || [];
    container.textContent = "";
    if (!rows.length) { container.textContent = text.empty; return; }
    var cols = columnsOf(rows);
    if (window.Plotly && answer.kind === "retention" && "period" in rows[0] && "size" in rows[0]) {
      retention(container, rows);
      return;
    }
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
