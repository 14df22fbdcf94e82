// Date range fields (templates/console/date_range.html), on insight pages and dashboards: choosing a preset
// fills the days; editing a day switches to "custom". In a form marked data-range-autosubmit, a preset other
// than "custom" also submits the form (a GET form: the range goes into the page's URL).
(function () {
  "use strict";
  var DAYS = { last_7: 6, last_30: 29, last_90: 89 };
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function iso(d) { return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()); }
  var preset = document.querySelector("[data-range-preset]");
  var from = document.getElementById("date_from");
  var to = document.getElementById("date_to");
  if (!preset || !from || !to) { return; }
  preset.addEventListener("change", function () {
    var today = new Date(to.getAttribute("max") + "T12:00:00");
    var days = DAYS[preset.value];
    if (days !== undefined) {
      var start = new Date(today); start.setDate(start.getDate() - days);
      from.value = iso(start); to.value = iso(today);
    } else if (preset.value === "this_month") {
      from.value = iso(new Date(today.getFullYear(), today.getMonth(), 1)); to.value = iso(today);
    } else if (preset.value === "own") {
      from.value = ""; to.value = "";
    }
    var form = preset.form;
    if (form && form.hasAttribute("data-range-autosubmit") && preset.value !== "custom") {
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    }
  });
  [from, to].forEach(function (input) {
    input.addEventListener("change", function () { preset.value = "custom"; });
  });
})();
