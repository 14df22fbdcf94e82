// Insight pages: draw the chart from the page's JSON, add/remove form rows, copy link, loading (date presets:
// date_range.js).
(function () {
  "use strict";

  function draw() {
    var data = document.getElementById("insight-figure");
    var target = document.getElementById("insight-chart");
    if (!data || !target || !window.Plotly) { return; }
    var figure = JSON.parse(data.textContent);
    window.Plotly.newPlot(target, figure.data, figure.layout, { responsive: true, displaylogo: false })
      .then(function () { target.setAttribute("data-drawn", "true"); });
  }

  var counter = 1000;
  function addRow(name) {
    var template = document.querySelector('template[data-template="' + name + '"]');
    var rows = document.querySelector('[data-rows="' + name + '"]');
    if (!template || !rows) { return; }
    var max = parseInt(rows.getAttribute("data-max-rows") || "50", 10);
    if (rows.querySelectorAll("[data-row]").length >= max) { return; }
    counter += 1;
    var html = template.innerHTML.replace(/__n__/g, String(counter));
    template.insertAdjacentHTML("beforebegin", html);
    var added = template.previousElementSibling;
    var first = added && added.querySelector("input, select");
    if (first) { first.focus(); }
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) { addRow(add.getAttribute("data-add-row")); return; }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var row = remove.closest("[data-row]");
      var rows = row && row.parentElement;
      var min = parseInt((rows && rows.getAttribute("data-min-rows")) || "0", 10);
      if (row && rows.querySelectorAll("[data-row]").length > min) { row.remove(); }
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var input = document.getElementById(copy.getAttribute("data-copy"));
      input.select();
      var done = function () { copy.textContent = copy.getAttribute("data-copied"); };
      // The selected text is copied at once while the click still counts as a user gesture; the
      // asynchronous clipboard API is the fallback where execCommand is refused.
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (err) { copied = false; }
      if (copied) { done(); }
      else if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(input.value).then(done); }
    }
  });

  // Loading state: a query can take seconds on a large project.
  var form = document.querySelector("[data-insight-form]");
  if (form) {
    form.addEventListener("submit", function () {
      var spinner = form.querySelector("[data-loading]");
      var button = form.querySelector("[data-run]");
      if (spinner) { spinner.hidden = false; }
      if (button) { button.setAttribute("aria-disabled", "true"); button.classList.add("busy"); }
      var result = document.querySelector("[data-result]");
      if (result) { result.classList.add("stale"); result.setAttribute("aria-busy", "true"); }
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
