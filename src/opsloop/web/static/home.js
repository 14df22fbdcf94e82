// Home dashboard: fetch the indicators, draw one card per indicator with its change and a sparkline.
(function () {
  "use strict";
  var block = document.getElementById("kpi-page");
  if (!block) { return; }
  var page = JSON.parse(block.textContent);
  var status = document.getElementById("kpi-status");
  var list = document.getElementById("kpi-cards");
  var lang = document.documentElement.lang || "en";

  function formatValue(value, format) {
    if (value === null || value === undefined) { return page.text.no_value; }
    if (format === "percent") { return (value * 100).toLocaleString(lang, { maximumFractionDigits: 1 }) + "%"; }
    if (format === "money") { return value.toLocaleString(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 }); }
    if (format === "decimal") { return value.toLocaleString(lang, { maximumFractionDigits: 1 }); }
    return Math.round(value).toLocaleString(lang);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function changeNode(indicator) {
    var node = el("p", "kpi-change");
    var pct = indicator.change_percent;
    if (indicator.change === null || indicator.change === undefined) {
      node.textContent = "";
      return node;
    }
    var arrow = indicator.change > 0 ? "▲" : (indicator.change < 0 ? "▼" : "■");
    node.classList.add(indicator.change > 0 ? "up" : (indicator.change < 0 ? "down" : "flat"));
    var text = pct === null || pct === undefined ? "" : Math.abs(pct).toLocaleString(lang, { maximumFractionDigits: 1 }) + "%";
    if (indicator.change === 0) { text = page.text.same; }
    node.appendChild(el("span", "arrow", arrow));
    node.appendChild(document.createTextNode(" " + text + " "));
    return node;
  }

  function sparkline(container, indicator, format) {
    if (!window.Plotly || !indicator.dates || indicator.dates.length < 2) { return; }
    var y = indicator.series.map(function (v) { return v === null ? null : (format === "percent" ? v * 100 : v); });
    window.Plotly.newPlot(container, [{
      x: indicator.dates, y: y, type: "scatter", mode: "lines", line: { color: "#2456d3", width: 2 },
      fill: "tozeroy", fillcolor: "rgba(36,86,211,.08)", connectgaps: false, hoverinfo: "x+y"
    }], {
      margin: { l: 0, r: 0, t: 2, b: 0 }, height: 48, showlegend: false,
      xaxis: { visible: false }, yaxis: { visible: false, rangemode: "tozero" },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"
    }, { displayModeBar: false, responsive: true, staticPlot: false });
  }

  function draw(report) {
    list.textContent = "";
    page.cards.forEach(function (card) {
      var indicator = report[card.key];
      var item = el("li", "card kpi-card");
      item.setAttribute("data-kpi", card.key);
      item.appendChild(el("h2", "kpi-label", card.label));
      item.appendChild(el("p", "kpi-value", formatValue(indicator.value, card.format)));
      var change = changeNode(indicator);
      var previous = el("span", "kpi-previous", page.text.previous + ": " + formatValue(indicator.previous, card.format));
      change.appendChild(previous);
      item.appendChild(change);
      var spark = el("div", "kpi-spark");
      spark.setAttribute("aria-hidden", "true");
      item.appendChild(spark);
      list.appendChild(item);
      sparkline(spark, indicator, card.format);
    });
    document.getElementById("kpi-period").textContent = page.text.period + ": " + report.date_from + " – " + report.date_to +
      " (" + page.text.previous + ": " + report.previous_from + " – " + report.previous_to + ") · " + report.timezone +
      " · " + page.text.active_today + ": " + report.dau_today.toLocaleString(lang);
    var footer = page.text.seconds.replace("{seconds}", report.seconds);
    if (report.funnel) {
      footer = page.text.funnel + ": " + report.funnel.steps.map(function (s) { return s.event; }).join(" → ") +
        (report.funnel_detected ? " (" + page.text.detected + ")" : "") + " · " + footer;
    }
    document.getElementById("kpi-footer").textContent = footer;
  }

  function start() {
    fetch(page.url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        // A signed-out session or a proxy error answers HTML: say which status it was.
        return response.json()
          .catch(function () { return { detail: "HTTP " + response.status }; })
          .then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (!answer.ok) { throw new Error(answer.body.detail || "error"); }
        status.hidden = true;
        draw(answer.body);
      })
      .catch(function (error) {
        status.classList.remove("loading");
        status.classList.add("alert", "alert-error");
        status.textContent = page.text.failed + " " + error.message;
      });
  }
  if (document.readyState === "complete") { start(); } else { window.addEventListener("load", start); }
})();
