// opsloop console: the segment editor (a tree of AND / OR groups written into the form's JSON field) and its
// live size. Without it, the form's JSON field is the editor.
(function () {
  "use strict";

  function data(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) { return; }
      if (key === "text") { node.textContent = value; } else if (key.slice(0, 2) === "on") {
        node.addEventListener(key.slice(2), value);
      } else { node.setAttribute(key, value === true ? "" : value); }
    });
    (children || []).forEach(function (child) {
      if (child) { node.appendChild(typeof child === "string" ? document.createTextNode(child) : child); }
    });
    return node;
  }

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) { return String(values[key]); });
  }

  // -- the editor ------------------------------------------------------------------------------------------

  function editor(cfg, textarea, root, sizeOut) {
    var T = cfg.text;
    var PERSON_OPS = ["eq", "neq", "in", "contains", "gt", "gte", "lt", "lte", "between", "is_set", "is_not_set"];
    var FILTER_OPS = ["eq", "neq", "in", "contains", "gt", "gte", "lt", "lte", "is_set", "is_not_set"];
    var TAG_OPS = ["eq", "neq", "in", "is_set", "is_not_set"];
    var TYPES = ["event", "person", "age", "first_seen", "last_seen", "segment", "tag", "lifecycle_stage", "rfm_segment"];
    var state;
    var timer = null;
    var asked = 0;

    function fresh(type) {
      switch (type) {
        case "event": return { type: "event", event: cfg.events[0] || "", did: true, count_op: "gte", count: 1, within_days: 30, filters: [] };
        case "person": return { type: "person", property: "", op: "eq", value: "" };
        case "age": return { type: "age", property: "birth_year", source: "birth_year", min: 18, max: 34 };
        case "first_seen": return { type: "first_seen", within_days: 30 };
        case "last_seen": return { type: "last_seen", within_days: 30 };
        case "segment": return { type: "segment", segment_id: cfg.segments.length ? cfg.segments[0].id : 0, member: true };
        case "tag": return { type: "tag", tag: cfg.tags[0] || "", op: "eq", value: "" };
        case "lifecycle_stage": return { type: "lifecycle_stage", stages: ["active"] };
        case "rfm_segment": return { type: "rfm_segment", rfm: { value_event: cfg.purchase_event, amount_property: cfg.revenue_property, lookback_days: 365 }, segments: ["Champions"], cells: [] };
        default: return { type: "group", operator: "and", negate: false, conditions: [fresh("event")] };
      }
    }

    function parses(text) {
      try { JSON.parse(text); return true; } catch (e) { return false; }
    }

    function load() {
      try { state = JSON.parse(textarea.value); } catch (e) { state = null; }
      if (!state || typeof state !== "object" || !Array.isArray(state.conditions)) {
        state = { type: "group", operator: "and", negate: false, conditions: [fresh("event")] };
      }
    }

    function save() {
      textarea.value = JSON.stringify(state, null, 2);
      schedule();
    }

    // A typed value as JSON: numbers and booleans where the catalogue says the property holds them.
    function typed(text, kind) {
      var t = String(text).trim();
      if (kind === "number" && t !== "" && !isNaN(Number(t))) { return Number(t); }
      if (kind === "boolean" && (t === "true" || t === "false")) { return t === "true"; }
      return t;
    }
    function valueOf(text, op, kind) {
      if (op === "is_set" || op === "is_not_set") { return null; }
      if (op === "in") { return String(text).split(",").map(function (v) { return typed(v, kind); }).filter(function (v) { return v !== ""; }); }
      return typed(text, kind);
    }
    function shown(value) {
      if (value === null || value === undefined) { return ""; }
      return Array.isArray(value) ? value.join(", ") : String(value);
    }

    function select(label, options, current, onchange) {
      return el("select", { "aria-label": label, onchange: function (e) { onchange(e.target.value); } },
        options.map(function (o) { return el("option", { value: o[0], selected: String(o[0]) === String(current), text: o[1] }); }));
    }
    function input(label, value, attrs, oninput) {
      var a = Object.assign({ "aria-label": label, value: value === null || value === undefined ? "" : value }, attrs);
      a.oninput = function (e) { oninput(e.target.value); };
      return el("input", a);
    }
    function number(value) { return value === "" ? null : Number(value); }

    function windowFields(c) {
      var kind = c.within_days !== null && c.within_days !== undefined ? "last" : (c.date_from || c.date_to ? "between" : "all");
      var parts = [select(T.window, [["all", T.all_time], ["last", T.last_days], ["between", T.between_dates]], kind, function (v) {
        delete c.within_days; delete c.date_from; delete c.date_to;
        if (v === "last") { c.within_days = 30; }
        if (v === "between") {
          var today = new Date();
          var from = new Date(today.getTime() - 29 * 86400000);
          c.date_from = from.toISOString().slice(0, 10); c.date_to = today.toISOString().slice(0, 10);
        }
        render(); save();
      })];
      if (kind === "last") {
        parts.push(input(T.days, c.within_days, { type: "number", min: 1, max: 3660, class: "num-input" }, function (v) { c.within_days = number(v); save(); }));
      }
      if (kind === "between") {
        parts.push(input(T.date_from, c.date_from, { type: "date" }, function (v) { c.date_from = v || null; save(); }));
        parts.push(input(T.date_to, c.date_to, { type: "date" }, function (v) { c.date_to = v || null; save(); }));
      }
      return parts;
    }

    function opLabel(op) { return T["op_" + op]; }

    function valueFields(c, ops, types, nameKey) {
      var parts = [select(T.operator, ops.map(function (op) { return [op, opLabel(op)]; }), c.op, function (v) {
        var old = c.op;
        c.op = v;
        if (v === "between") { c.value = [0, 100]; } else if (v === "is_set" || v === "is_not_set") { c.value = null; }
        else if (old === "between" || old === "is_set" || old === "is_not_set") { c.value = ""; }
        else { c.value = valueOf(shown(c.value), v, types[c[nameKey]]); }
        render(); save();
      })];
      if (c.op === "between") {
        var pair = Array.isArray(c.value) ? c.value : [0, 100];
        parts.push(input(T.low, pair[0], { type: "number", class: "num-input" }, function (v) { c.value = [number(v), pair[1]]; pair = c.value; save(); }));
        parts.push(input(T.high, pair[1], { type: "number", class: "num-input" }, function (v) { c.value = [pair[0], number(v)]; pair = c.value; save(); }));
      } else if (c.op !== "is_set" && c.op !== "is_not_set") {
        parts.push(input(T.value, shown(c.value), { class: "value-input" }, function (v) { c.value = valueOf(v, c.op, types[c[nameKey]]); save(); }));
      }
      return parts;
    }

    function checks(label, options, chosen, onchange) {
      return el("span", { class: "checks", role: "group", "aria-label": label }, options.map(function (o) {
        var box = el("input", { type: "checkbox", value: o[0], checked: chosen.indexOf(o[0]) >= 0, onchange: function () {
          var picked = Array.prototype.slice.call(box.parentNode.parentNode.querySelectorAll("input:checked")).map(function (b) { return b.value; });
          onchange(picked);
        } });
        return el("label", {}, [box, " " + o[1]]);
      }));
    }

    function fields(c) {
      switch (c.type) {
        case "event": {
          var parts = [
            select(T.did, [["true", T.did], ["false", T.did_not]], String(c.did !== false), function (v) {
              c.did = v === "true"; c.count_op = "gte"; c.count = 1; render(); save();
            }),
            input(T.event_name, c.event, { list: "seg-events", class: "name-input", required: true }, function (v) { c.event = v.trim(); save(); })
          ];
          if (c.did !== false) {
            parts.push(select(T.count, [["gte", T.gte], ["lte", T.lte], ["eq", T.eq_times]], c.count_op, function (v) { c.count_op = v; save(); }));
            parts.push(input(T.count, c.count, { type: "number", min: 0, class: "num-input" }, function (v) { c.count = number(v); save(); }));
            parts.push(el("span", { text: T.times }));
          }
          parts = parts.concat(windowFields(c));
          c.filters = c.filters || [];
          var rows = c.filters.map(function (f, i) {
            return el("div", { class: "seg-filter" }, [el("span", { class: "muted", text: T.where }),
              input(T.property, f.property, { list: "seg-event-props", class: "name-input" }, function (v) { f.property = v.trim(); save(); })]
              .concat(valueFields(f, FILTER_OPS, cfg.event_types, "property"))
              .concat([el("button", { type: "button", class: "small link remove", "aria-label": T.remove, text: "×", onclick: function () { c.filters.splice(i, 1); render(); save(); } })]));
          });
          return [el("div", { class: "seg-fields" }, parts)].concat(rows).concat([
            el("button", { type: "button", class: "small add-filter", text: "+ " + T.add_filter, onclick: function () {
              c.filters.push({ property: "", type: "event", op: "eq", value: "" }); render(); save();
            } })]);
        }
        case "person":
          return [el("div", { class: "seg-fields" }, [input(T.property, c.property, { list: "seg-person-props", class: "name-input" }, function (v) { c.property = v.trim(); save(); })]
            .concat(valueFields(c, PERSON_OPS, cfg.person_types, "property")))];
        case "age":
          return [el("div", { class: "seg-fields" }, [
            input(T.property, c.property, { list: "seg-person-props", class: "name-input" }, function (v) { c.property = v.trim(); save(); }),
            select(T.age_source, [["birth_year", T.birth_year], ["age", T.age_value]], c.source, function (v) { c.source = v; save(); }),
            input(T.min_age, c.min, { type: "number", min: 0, max: 200, class: "num-input" }, function (v) { c.min = number(v); save(); }),
            el("span", { text: "–" }),
            input(T.max_age, c.max, { type: "number", min: 0, max: 200, class: "num-input" }, function (v) { c.max = number(v); save(); })])];
        case "first_seen":
        case "last_seen":
          return [el("div", { class: "seg-fields" }, windowFields(c))];
        case "segment":
          if (!cfg.segments.length) { return [el("p", { class: "hint", text: T.no_segments })]; }
          return [el("div", { class: "seg-fields" }, [
            select(T.member, [["true", T.member], ["false", T.not_member]], String(c.member !== false), function (v) { c.member = v === "true"; save(); }),
            select(T.segment, cfg.segments.map(function (s) { return [s.id, s.name]; }), c.segment_id, function (v) { c.segment_id = Number(v); save(); })])];
        case "tag":
          return [el("div", { class: "seg-fields" }, [input(T.tag_name, c.tag, { list: "seg-tags", class: "name-input" }, function (v) { c.tag = v.trim(); save(); })]
            .concat(valueFields(c, TAG_OPS, {}, "tag")))];
        case "lifecycle_stage":
          return [el("div", { class: "seg-fields" }, [checks(T.stages, cfg.stages.map(function (s) { return [s.value, s.label]; }), c.stages || [], function (picked) { c.stages = picked; save(); })])];
        case "rfm_segment":
          c.rfm = c.rfm || {};
          return [el("div", { class: "seg-fields" }, [
            input(T.value_event, c.rfm.value_event, { list: "seg-events", class: "name-input" }, function (v) { c.rfm.value_event = v.trim(); save(); }),
            input(T.amount_property, c.rfm.amount_property, { list: "seg-event-props", class: "name-input" }, function (v) { c.rfm.amount_property = v.trim(); save(); }),
            input(T.lookback, c.rfm.lookback_days, { type: "number", min: 1, max: 3660, class: "num-input" }, function (v) { c.rfm.lookback_days = number(v); save(); })]),
            el("div", { class: "seg-fields" }, [checks(T.rfm_names, cfg.rfm_segments, c.segments || [], function (picked) { c.segments = picked; save(); })]),
            el("div", { class: "seg-fields" }, [el("span", { class: "muted", text: T.rfm_cells }),
              input(T.rfm_cells, (c.cells || []).map(function (rf) { return rf.join(","); }).join("; "), { class: "value-input", placeholder: "5,5; 4,5" }, function (v) {
                c.cells = v.split(";").map(function (pair) { return pair.split(",").map(function (n) { return Number(n.trim()); }); })
                  .filter(function (rf) { return rf.length === 2 && !isNaN(rf[0]) && !isNaN(rf[1]) && rf[0] && rf[1]; });
                save();
              })])];
        default:
          return [];
      }
    }

    function group(g, parent, index, depth) {
      var list = el("ol", { class: "seg-conditions" }, g.conditions.map(function (c, i) {
        if (c.type === "group") { return el("li", { class: "seg-nested" }, [group(c, g, i, depth + 1)]); }
        return el("li", { class: "seg-cond", "data-type": c.type }, [
          el("div", { class: "seg-cond-head" }, [
            el("strong", { text: T[c.type] || c.type }),
            el("button", { type: "button", class: "small link remove", "aria-label": T.remove, text: "× " + T.remove, onclick: function () {
              g.conditions.splice(i, 1); render(); save();
            } })])].concat(fields(c)));
      }));
      var picker = select(T.condition_type, TYPES.map(function (t) { return [t, T[t]]; }), "event", function () {});
      var head = [
        select(T.and, [["and", T.and], ["or", T.or]], g.operator, function (v) { g.operator = v; save(); }),
        el("label", { class: "negate" }, [el("input", { type: "checkbox", checked: !!g.negate, onchange: function (e) { g.negate = e.target.checked; save(); } }), " " + T.not])
      ];
      if (parent) {
        head.push(el("button", { type: "button", class: "small link remove", "aria-label": T.remove, text: "× " + T.remove, onclick: function () {
          parent.conditions.splice(index, 1); render(); save();
        } }));
      }
      var adders = [picker, el("button", { type: "button", class: "small add-condition", text: "+ " + T.add, onclick: function () {
        g.conditions.push(fresh(picker.value)); render(); save();
      } })];
      if (depth < 4) {
        adders.push(el("button", { type: "button", class: "small add-group", text: "+ " + T.add_group, onclick: function () {
          g.conditions.push(fresh("group")); render(); save();
        } }));
      }
      return el("fieldset", { class: "seg-group depth-" + depth }, [
        el("legend", {}, head), list, el("div", { class: "seg-add" }, adders)]);
    }

    function render() {
      var focused = document.activeElement;
      var where = focused && root.contains(focused) ? Array.prototype.indexOf.call(root.querySelectorAll("input, select, button"), focused) : -1;
      root.textContent = "";
      root.appendChild(group(state, null, 0, 0));
      if (where >= 0) {
        var again = root.querySelectorAll("input, select, button")[where];
        if (again) { again.focus(); }
      }
    }

    // -- live size ---------------------------------------------------------------------------------------

    // A name the server would refuse (checked only once the catalogue knows the names of its kind).
    function unknown(kind, name, template) {
      var names = kind === "tag" ? cfg.tags : (cfg.known[kind].length ? cfg.known[kind] : (kind === "event" ? cfg.events : []));
      return names.length && names.indexOf(name) < 0 ? fill(template, { name: name }) : "";
    }

    function problem(g) {
      for (var i = 0; i < g.conditions.length; i++) {
        var c = g.conditions[i];
        var found = "";
        if (c.type === "group") { found = problem(c); }
        if (c.type === "event") {
          if (!c.event || (c.filters || []).some(function (f) { return !f.property; })) { return T.incomplete; }
          found = c.event === "$any" ? "" : unknown("event", c.event, T.unknown_event);
          (c.filters || []).forEach(function (f) { found = found || unknown("event_property", f.property, T.unknown_property); });
        }
        if (c.type === "person" || c.type === "age") {
          if (!c.property) { return T.incomplete; }
          found = unknown("person_property", c.property, T.unknown_property);
        }
        if (c.type === "tag") { found = c.tag ? unknown("tag", c.tag, T.unknown_tag) : T.incomplete; }
        if (c.type === "segment" && !c.segment_id) { return T.incomplete; }
        if (c.type === "rfm_segment") {
          found = unknown("event", c.rfm.value_event || "", T.unknown_event) || unknown("event_property", c.rfm.amount_property || "", T.unknown_property);
        }
        if (found) { return found; }
      }
      return g.conditions.length ? "" : T.incomplete;
    }

    function show(text, cls, size) {
      sizeOut.textContent = text;
      sizeOut.className = "live-size " + (cls || "");
      if (size === undefined) { sizeOut.removeAttribute("data-size"); } else { sizeOut.setAttribute("data-size", String(size)); }
    }

    function schedule() {
      if (timer) { clearTimeout(timer); }
      var local = problem(state);
      if (local) { show(local, "muted"); return; }
      show(T.computing, "muted busy");
      timer = setTimeout(ask, 600);
    }

    function ask() {
      var mine = ++asked;
      window.opsloopFetch(cfg.size_url, {
        method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" }, body: JSON.stringify(state)
      }).then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      }).then(function (answer) {
        if (mine !== asked) { return; }
        if (answer.ok) { show(fill(T.size, { count: answer.body.size.toLocaleString() }), "ok", answer.body.size); }
        else if (answer.body.retry) { show(answer.body.detail, "muted busy"); timer = setTimeout(ask, 5000); }
        else { show(T.size_failed + " " + (answer.body.detail || ""), "error"); }
      }).catch(function (error) {
        if (mine === asked) { show(T.size_failed + " " + error, "error"); }
      });
    }

    var typedText = textarea.value.trim();
    load();
    render();
    // Keep a hand-typed definition the server refused as JSON until the tree is changed.
    if (!typedText || parses(typedText)) { textarea.value = JSON.stringify(state, null, 2); }
    textarea.addEventListener("change", function () { load(); render(); schedule(); });
    schedule();
  }

  var cfg = data("segment-editor-data");
  var textarea = document.getElementById("definition-json");
  var root = document.getElementById("definition-tree");
  if (cfg && textarea && root) { editor(cfg, textarea, root, document.getElementById("live-size")); }

  // New segment: a static list has no definition.
  var section = document.getElementById("definition-section");
  var staticHint = document.getElementById("static-hint");
  document.querySelectorAll("input[name=kind]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      var isStatic = radio.value === "static" && radio.checked;
      if (section) { section.hidden = isStatic; textarea.disabled = isStatic; }
      if (staticHint) { staticHint.hidden = !isStatic; }
    });
  });
})();
