// Live events: refresh the table every few seconds (pausable); every value goes in as text.
(function () {
  "use strict";
  var block = document.getElementById("live-events");
  if (!block) { return; }
  var live = JSON.parse(block.textContent);
  var toggle = document.getElementById("live-toggle");
  var status = document.getElementById("live-status");
  var paused = false;
  var timer = null;

  function table() {
    var existing = document.getElementById("events-table");
    if (existing) { return existing; }
    var empty = document.getElementById("events-empty");
    var el = document.createElement("table");
    el.id = "events-table";
    el.className = "events-table";
    el.createTBody();
    if (empty) { empty.replaceWith(el); } else { block.parentNode.insertBefore(el, block); }
    return el;
  }

  function render(events) {
    if (!events.length) { return; }
    var body = table().tBodies[0];
    body.textContent = "";
    events.forEach(function (e) {
      var tr = body.insertRow();
      tr.insertCell().textContent = e.time;
      var code = document.createElement("code");
      code.className = "event-name";
      code.textContent = e.event;
      tr.insertCell().appendChild(code);
      var link = document.createElement("a");
      link.href = live.person_url + encodeURIComponent(e.distinct_id);
      link.textContent = e.distinct_id;
      tr.insertCell().appendChild(link);
      var cell = tr.insertCell();
      if (e.property_count) {
        var details = document.createElement("details");
        var summary = document.createElement("summary");
        summary.textContent = live.text.properties + " (" + e.property_count + ")";
        var pre = document.createElement("pre");
        pre.textContent = e.properties;
        details.appendChild(summary);
        details.appendChild(pre);
        cell.appendChild(details);
      }
    });
  }

  function refresh() {
    var url = live.url + (live.event ? "?event=" + encodeURIComponent(live.event) : "");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error(String(response.status)); } return response.json(); })
      .then(function (body) {
        // Keep open property panels open: skip redrawing while one is expanded.
        if (!document.querySelector("#events-table details[open]")) { render(body.events); }
        status.textContent = live.text.updated.replace("{time}", new Date().toLocaleTimeString());
      })
      .catch(function (error) { status.textContent = live.text.failed + " " + error.message; })
      .then(schedule);
  }

  function schedule() {
    if (timer) { window.clearTimeout(timer); }
    timer = paused ? null : window.setTimeout(refresh, live.seconds * 1000);
  }

  toggle.addEventListener("click", function () {
    paused = !paused;
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
    toggle.textContent = paused ? toggle.getAttribute("data-resume") : toggle.getAttribute("data-pause");
    if (paused) { status.textContent = live.text.paused; if (timer) { window.clearTimeout(timer); timer = null; } }
    else { refresh(); }
  });
  schedule();
})();
