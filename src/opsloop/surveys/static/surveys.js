/* opsloop surveys widget: no dependencies. Include with
 *   <script src="https://OPSLOOP/static/surveys.js" data-token="olp_..." data-distinct-id="user-1" async></script>
 * or call window.opsloopSurveys.init({host, token, distinctId, lang}) and opsloopSurveys.trigger("event name").
 * All survey text is set with textContent (never parsed as HTML). */
(function () {
  "use strict";
  if (window.opsloopSurveys && window.opsloopSurveys.version) return;
  var cfg = null, open = null, END = "$end";
  var UI = {
    en: { next: "Next", submit: "Submit", close: "Close survey", thanks: "Thank you!", required: "Please answer this question." },
    zh_Hans: { next: "下一步", submit: "提交", close: "关闭问卷", thanks: "谢谢！", required: "请回答这个问题。" },
    es: { next: "Siguiente", submit: "Enviar", close: "Cerrar encuesta", thanks: "¡Gracias!", required: "Responde a esta pregunta." }
  };
  function ui(lang) { return UI[lang] || UI.en; }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text != null) node.textContent = text;
    return node;
  }
  function post(path, body) {
    body.token = cfg.token; body.distinct_id = cfg.distinctId;
    // text/plain keeps the request "simple" (no CORS pre-flight); the server reads JSON whatever the type.
    // keepalive: a dismissal or answer sent just before the page is left still arrives.
    return fetch(cfg.host + path, { method: "POST", keepalive: true, headers: { "Content-Type": "text/plain" },
                                    body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.detail || r.status); return j; }); });
  }
  function nextId(survey, q, answer) {
    for (var i = 0; i < q.branches.length; i++) {
      var b = q.branches[i];
      if (answer == null) break;
      if (b.choices) {
        var picked = Array.isArray(answer) ? answer : [answer];
        for (var j = 0; j < picked.length; j++) if (b.choices.indexOf(picked[j]) >= 0) return b.goto;
      } else if (typeof answer === "number" && (b.min == null || answer >= b.min) && (b.max == null || answer <= b.max)) {
        return b.goto;
      }
    }
    if (q.next) return q.next;
    var idx = survey.questions.indexOf(q);
    return idx + 1 < survey.questions.length ? survey.questions[idx + 1].id : END;
  }
  function find(survey, id) {
    for (var i = 0; i < survey.questions.length; i++) if (survey.questions[i].id === id) return survey.questions[i];
    return null;
  }
  function style() {
    if (document.getElementById("opsloop-survey-style")) return;
    var css = ".ols{position:fixed;right:20px;bottom:20px;width:340px;max-width:calc(100vw - 40px);background:#fff;color:#1f2328;" +
      "border:1px solid #d0d7de;border-radius:10px;box-shadow:0 8px 24px rgba(0,0,0,.18);padding:16px 18px;font:14px/1.45 system-ui,sans-serif;z-index:2147483000}" +
      ".ols h2{font-size:15px;margin:0 28px 6px 0}.ols p{margin:0 0 10px;color:#57606a}.ols fieldset{border:0;padding:0;margin:0 0 12px}" +
      ".ols legend{font-weight:600;margin-bottom:8px}.ols .scale{display:flex;flex-wrap:wrap;gap:4px}" +
      ".ols .scale label{flex:1 0 24px;text-align:center;border:1px solid #d0d7de;border-radius:6px;padding:5px 0;cursor:pointer}" +
      ".ols .scale input{position:absolute;opacity:0;width:1px;height:1px}.ols .scale input:checked+span{font-weight:700}" +
      ".ols .scale label:has(input:checked){background:#0969da;color:#fff;border-color:#0969da}" +
      ".ols .scale label:has(input:focus-visible){outline:2px solid #0969da;outline-offset:2px}" +
      ".ols .ends{display:flex;justify-content:space-between;font-size:12px;color:#57606a;margin-top:4px}" +
      ".ols .opt{display:block;margin:4px 0}.ols textarea{width:100%;box-sizing:border-box;min-height:70px;font:inherit}" +
      ".ols button.go{background:#0969da;color:#fff;border:0;border-radius:6px;padding:7px 14px;font:inherit;cursor:pointer}" +
      ".ols button.x{position:absolute;top:8px;right:8px;background:none;border:0;font-size:20px;line-height:1;cursor:pointer;color:#57606a}" +
      ".ols .err{color:#cf222e;margin:0 0 8px}";
    var s = el("style", { id: "opsloop-survey-style" }, css);
    document.head.appendChild(s);
  }
  function readAnswer(q, form) {
    if (q.type === "open_text") { var t = form.querySelector("textarea").value.trim(); return t ? t : null; }
    if (q.type === "multiple_choice") {
      var ids = [], boxes = form.querySelectorAll("input:checked");
      for (var i = 0; i < boxes.length; i++) ids.push(boxes[i].value);
      return ids.length ? ids : null;
    }
    var picked = form.querySelector("input:checked");
    if (!picked) return null;
    return q.scale ? parseInt(picked.value, 10) : picked.value;
  }
  function renderQuestion(state, q) {
    var box = state.box, words = ui(state.survey.language);
    while (box.childNodes.length > 1) box.removeChild(box.lastChild);
    var form = el("form", { novalidate: "" });
    var fs = el("fieldset"), qid = "ols-q-" + state.survey.id + "-" + q.id;
    var legend = el("legend", { id: qid }, q.text);
    fs.appendChild(legend);
    if (q.description) fs.appendChild(el("p", null, q.description));
    if (q.type === "open_text") {
      var ta = el("textarea", { name: "answer", "aria-labelledby": qid, maxlength: "5000" });
      fs.appendChild(ta);
    } else if (q.scale) {
      var row = el("div", { class: "scale", role: "radiogroup", "aria-labelledby": qid });
      for (var v = q.scale[0]; v <= q.scale[1]; v++) {
        var lab = el("label"), inp = el("input", { type: "radio", name: "answer", value: String(v) });
        lab.appendChild(inp); lab.appendChild(el("span", null, String(v))); row.appendChild(lab);
      }
      fs.appendChild(row);
      if (q.low_label || q.high_label) {
        var ends = el("div", { class: "ends", "aria-hidden": "true" });
        ends.appendChild(el("span", null, q.low_label || "")); ends.appendChild(el("span", null, q.high_label || ""));
        fs.appendChild(ends);
      }
    } else {
      var kind = q.type === "multiple_choice" ? "checkbox" : "radio";
      for (var c = 0; c < q.choices.length; c++) {
        var l2 = el("label", { class: "opt" }), i2 = el("input", { type: kind, name: "answer", value: q.choices[c].id });
        l2.appendChild(i2); l2.appendChild(document.createTextNode(" " + q.choices[c].text)); fs.appendChild(l2);
      }
    }
    form.appendChild(fs);
    var err = el("p", { class: "err", role: "alert" });
    form.appendChild(err);
    form.addEventListener("change", function () { err.textContent = ""; });
    var last = nextId(state.survey, q, null) === END && !q.branches.length;
    form.appendChild(el("button", { type: "submit", class: "go" }, last ? words.submit : words.next));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var answer = readAnswer(q, form);
      if (answer == null && q.required) { err.textContent = words.required; return; }
      var after = function () {
        var target = nextId(state.survey, q, answer);
        if (target === END) return thank(state);
        renderQuestion(state, find(state.survey, target));
      };
      if (answer == null) return after();
      var body = { answers: {}, lang: state.survey.language };
      body.answers[q.id] = answer;
      if (state.responseId) body.response_id = state.responseId;
      post("/api/surveys/" + state.survey.id + "/responses", body).then(function (r) {
        state.responseId = r.response_id; after();
      }, function (e) { err.textContent = String(e.message || e); });
    });
    box.appendChild(form);
    var first = form.querySelector("input,textarea");
    if (first && state.focus) first.focus();
    state.focus = true;
  }
  function thank(state) {
    var box = state.box;
    while (box.childNodes.length > 1) box.removeChild(box.lastChild);
    box.appendChild(el("h2", { tabindex: "-1" }, state.survey.thank_you || ui(state.survey.language).thanks));
    box.setAttribute("data-state", "done");
    state.done = true;
    box.lastChild.focus();
    setTimeout(function () { close(state, false); }, cfg.thanksMs);
  }
  function close(state, dismissed) {
    if (state.box.parentNode) state.box.parentNode.removeChild(state.box);
    document.removeEventListener("keydown", state.onKey);
    open = null;
    if (dismissed && !state.done) post("/api/surveys/" + state.survey.id + "/dismissed", {});
  }
  function show(survey) {
    style();
    var box = el("div", { class: "ols", role: "dialog", "aria-label": survey.name, "data-survey-id": String(survey.id), lang: survey.language.replace("_", "-") });
    var state = { survey: survey, box: box, responseId: null, done: false, focus: false };
    var x = el("button", { type: "button", class: "x", "aria-label": ui(survey.language).close }, "\u00d7");
    x.addEventListener("click", function () { close(state, true); });
    box.appendChild(x);
    state.onKey = function (ev) { if (ev.key === "Escape") close(state, true); };
    document.addEventListener("keydown", state.onKey);
    document.body.appendChild(box);
    open = state;
    renderQuestion(state, survey.questions[0]);
    post("/api/surveys/" + survey.id + "/shown", {});
  }
  function check(event) {
    if (!cfg || open) return Promise.resolve(null);
    var url = cfg.host + "/api/surveys/active?token=" + encodeURIComponent(cfg.token) +
      "&distinct_id=" + encodeURIComponent(cfg.distinctId) + (event ? "&event=" + encodeURIComponent(event) : "") +
      (cfg.lang ? "&lang=" + encodeURIComponent(cfg.lang) : "");
    return fetch(url).then(function (r) { return r.json(); }).then(function (j) {
      if (j.surveys && j.surveys.length && !open) show(j.surveys[0]);
      return j.surveys || [];
    });
  }
  function init(options) {
    cfg = { host: (options.host || "").replace(/\/$/, ""), token: options.token, distinctId: options.distinctId,
            lang: options.lang || null, thanksMs: options.thanksMs || 4000 };
    return check(null);
  }
  window.opsloopSurveys = { version: 1, init: init, trigger: check };
  var me = document.currentScript;
  if (me && me.getAttribute("data-token")) {
    var host = me.getAttribute("data-host") || me.src.replace(/\/static\/surveys\.js.*$/, "");
    var start = function () {
      init({ host: host, token: me.getAttribute("data-token"), distinctId: me.getAttribute("data-distinct-id"),
             lang: me.getAttribute("data-lang") });
    };
    if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
  }
})();
