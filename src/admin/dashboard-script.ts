// The dashboard's browser script, as text (src/admin/dashboard.ts inlines it under the page's CSP nonce; there is
// no build step for the browser). It reads `/_/buckets` and `/_/stats`, and renders totals, an SVG bar chart of
// savings per deltaspace, the worst deltaspaces, counts by storage type and recent activity. Keys and deltaspace
// names are user data: every value reaches the DOM through textContent, setAttribute or createTextNode, never as
// markup (no innerHTML anywhere). Written as plain ES2019 without template literals so it can live in this string.
export const DASHBOARD_SCRIPT = String.raw`
"use strict";
(function () {
  var REFRESH_MS = 30000, CHART_ROWS = 12, WORST_ROWS = 6, RECENT_ROWS = 15;
  var SVG_NS = "http://www.w3.org/2000/svg";
  /** byType rows: "reference" counts the deltaspaces' reference.bin files, not user objects. */
  var TYPE_LABELS = { reference: "reference.bin", delta: "Delta", direct: "Direct" };
  /** x-amz-storage-type names; the engine's own names map onto them. */
  var STORAGE_TYPE_NAMES = { reference: "Reference", delta: "Delta", direct: "Direct", passthrough: "Direct" };
  var picker = document.getElementById("bucket");
  var loadSeq = 0, timer = 0;

  // ---- formatting (binary units, 3 significant digits; the e2e test checks these against /_/stats) ----
  var UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  function formatBytes(n) {
    if (typeof n !== "number" || !isFinite(n)) return "–";
    var sign = n < 0 ? "−" : "", v = Math.abs(n), i = 0;
    if (v < 1024) return sign + v + " B";
    while (v >= 1024 && i < UNITS.length - 1) { v /= 1024; i++; }
    var digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
    return sign + v.toFixed(digits) + " " + UNITS[i];
  }
  function formatCount(n) { return typeof n === "number" ? n.toLocaleString("en-US") : "–"; }
  function formatPercent(p) {
    if (typeof p !== "number" || !isFinite(p)) return "–";
    return (p < 0 ? "−" : "") + Math.abs(p).toFixed(1) + "%";
  }
  /** A delta's size as a share of its original: two significant digits, so a 1 KiB delta of 3 MiB is not "0%". */
  function formatRatio(r) {
    if (typeof r !== "number" || !isFinite(r)) return "–";
    var p = r * 100;
    return (p === 0 ? "0" : p < 10 ? p.toPrecision(2) : p.toFixed(1)) + "%";
  }
  function storageTypeName(type) {
    var key = String(type).toLowerCase();
    return Object.prototype.hasOwnProperty.call(STORAGE_TYPE_NAMES, key) ? STORAGE_TYPE_NAMES[key] : String(type);
  }
  function deltaspaceLabel(name) { return name === "" ? "(bucket root)" : name; }
  function formatTime(at) {
    var d = new Date(at);
    if (isNaN(d.getTime())) return String(at);
    var pad = function (x) { return (x < 10 ? "0" : "") + x; };
    var clock = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    var today = new Date();
    if (d.toDateString() === today.toDateString()) return clock;
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + clock;
  }
  /** Keeps the end of a long path (its most telling part) within max characters. */
  function shorten(text, max) { return text.length <= max ? text : "…" + text.slice(text.length - max + 1); }

  // ---- DOM helpers: text only ----
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function cell(text, className, title) {
    var td = el("td", className, text);
    if (title) td.setAttribute("title", title);
    return td;
  }
  function svgEl(tag, attrs, text) {
    var node = document.createElementNS(SVG_NS, tag);
    for (var name in attrs) node.setAttribute(name, String(attrs[name]));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function setStat(name, value, text) {
    var node = document.querySelector('[data-stat="' + name + '"]');
    node.textContent = text;
    node.setAttribute("data-value", String(value));
  }
  function fillBody(table, rows, emptyText, columns) {
    var body = document.querySelector("#" + table + " tbody");
    body.replaceChildren();
    if (rows.length === 0) {
      var tr = el("tr"), td = el("td", "empty", emptyText);
      td.setAttribute("colspan", String(columns));
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    rows.forEach(function (cells) {
      var tr = el("tr", cells.current ? "current" : "");
      cells.forEach(function (c) { tr.appendChild(c); });
      body.appendChild(tr);
    });
  }

  // ---- data ----
  function SignedOut() {}
  function getJson(path) {
    return fetch(path, { headers: { accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 401) throw new SignedOut();
        return response.json().catch(function () { return null; }).then(function (body) {
          if (!response.ok) throw new Error((body && body.message) || ("HTTP " + response.status + " from " + path));
          return body;
        });
      });
  }
  function showProblem(error) {
    var box = document.getElementById("problem");
    box.replaceChildren();
    if (error instanceof SignedOut) {
      box.appendChild(document.createTextNode("Your session has ended. "));
      var link = el("a", "", "Sign in again");
      link.setAttribute("href", "/_/login");
      box.appendChild(link);
    } else {
      box.textContent = "Could not load the statistics: " + (error && error.message ? error.message : String(error));
    }
    box.hidden = false;
    document.body.setAttribute("data-state", "error");
  }

  function chooseBucket(buckets) {
    var wanted = new URLSearchParams(location.search).get("bucket");
    var names = buckets.map(function (b) { return b.name; });
    if (wanted !== null && names.indexOf(wanted) >= 0) return wanted;
    return names.indexOf("default") >= 0 ? "default" : names[0] || null;
  }
  function fillPicker(buckets, selected) {
    picker.replaceChildren();
    buckets.forEach(function (b) {
      var option = el("option", "", b.name);
      option.value = b.name;
      if (b.name === selected) option.selected = true;
      picker.appendChild(option);
    });
    picker.disabled = buckets.length === 0;
  }

  function load() {
    var bucket = picker.value;
    var seq = ++loadSeq;
    document.body.setAttribute("data-state", "loading");
    if (!bucket) { showProblem(new Error("this Worker serves no bucket")); return Promise.resolve(); }
    return Promise.all([getJson("/_/stats"), getJson("/_/stats?bucket=" + encodeURIComponent(bucket))])
      .then(function (both) {
        if (seq !== loadSeq) return;  // the operator picked another bucket meanwhile
        document.getElementById("problem").hidden = true;
        render(both[0], both[1]);
        document.body.setAttribute("data-bucket", bucket);
        document.body.setAttribute("data-state", "ready");
      })
      .catch(function (error) { if (seq === loadSeq) showProblem(error); });
  }

  // ---- rendering ----
  function render(all, stats) {
    setStat("objects", stats.objects, formatCount(stats.objects));
    setStat("logicalBytes", stats.logicalBytes, formatBytes(stats.logicalBytes));
    setStat("storedBytes", stats.storedBytes, formatBytes(stats.storedBytes));
    setStat("savedBytes", stats.savedBytes, formatBytes(stats.savedBytes));
    setStat("savedPercent", stats.savedPercent, formatPercent(stats.savedPercent));
    var spaces = Array.isArray(stats.deltaspaces) ? stats.deltaspaces : [];
    var spaceCount = spaces.filter(function (s) { return s.objects > 0; }).length;
    document.getElementById("deltaspace-count").textContent =
      "in " + formatCount(spaceCount) + (spaceCount === 1 ? " deltaspace" : " deltaspaces");
    var share = stats.logicalBytes > 0 ? Math.min(100, Math.max(0, 100 * stats.storedBytes / stats.logicalBytes)) : 0;
    document.getElementById("meter-stored").style.width = share.toFixed(2) + "%";
    renderBuckets(all, stats.bucket);
    renderProvenance(stats);
    renderChart(spaces);
    renderWorst(spaces);
    renderTypes(stats.byType || {});
    renderRecent(stats.recent || []);
    document.getElementById("updated").textContent = "Updated " + formatTime(all.generatedAt || Date.now());
  }

  /** Where the totals come from: running counts kept on every write, and when they were last rebuilt from storage. */
  function renderProvenance(stats) {
    var text = "Running totals, kept on every write and delete; ";
    text += stats.rebuiltAt ? "last rebuilt from storage " + formatTime(stats.rebuiltAt) + "." : "never rebuilt from storage.";
    if (stats.rebuilding) text += " A rebuild scan is in progress (" + formatCount(stats.rebuilding.scanned) + " stored names read).";
    document.getElementById("provenance").textContent = text;
  }

  function renderChart(spaces) {
    var box = document.getElementById("chart");
    box.replaceChildren();
    var rows = spaces.filter(function (s) { return s.objects > 0; })
      .sort(function (a, b) { return b.logicalBytes - a.logicalBytes; });
    if (rows.length === 0) { box.appendChild(el("p", "empty", "No objects in this bucket yet.")); return; }
    var shown = rows.slice(0, CHART_ROWS);
    var W = 960, ROW = 34, LABEL = 250, BAR_X = 262, BAR_W = 430, TEXT_X = BAR_X + BAR_W + 14;
    var height = shown.length * ROW + 6;
    var svg = svgEl("svg", { viewBox: "0 0 " + W + " " + height, role: "img", "aria-label": "Savings per deltaspace" });
    var max = shown[0].logicalBytes || 1;
    shown.forEach(function (s, i) {
      var y = i * ROW + 4, name = deltaspaceLabel(s.deltaspace);
      var g = svgEl("g", { "data-deltaspace": s.deltaspace });
      g.appendChild(svgEl("title", {}, name + ": " + formatBytes(s.logicalBytes) + " stored as " + formatBytes(s.storedBytes)));
      g.appendChild(svgEl("text", { x: LABEL, y: y + 19, "text-anchor": "end" }, shorten(name, 34)));
      var full = Math.max(2, BAR_W * s.logicalBytes / max);
      var stored = Math.min(full, Math.max(1, full * s.storedBytes / Math.max(1, s.logicalBytes)));
      g.appendChild(svgEl("rect", { x: BAR_X, y: y + 5, width: full.toFixed(1), height: 20, rx: 4, "class": "bar-saved" }));
      g.appendChild(svgEl("rect", { x: BAR_X, y: y + 5, width: stored.toFixed(1), height: 20, rx: 4, "class": "bar-stored" }));
      var label = svgEl("text", { x: TEXT_X, y: y + 19 });
      label.appendChild(svgEl("tspan", { "font-weight": "600" }, formatPercent(s.savedPercent)));
      label.appendChild(svgEl("tspan", { "class": "dim", dx: 8 }, formatBytes(s.logicalBytes) + " → " + formatBytes(s.storedBytes)));
      g.appendChild(label);
      svg.appendChild(g);
    });
    box.appendChild(svg);
    if (rows.length > shown.length) box.appendChild(el("p", "muted", "and " + (rows.length - shown.length) + " smaller deltaspaces"));
  }

  /** A key as it reads inside its deltaspace (the deltaspace is in the row already). */
  function keyInDeltaspace(key, deltaspace) {
    return deltaspace !== "" && key.indexOf(deltaspace + "/") === 0 ? key.slice(deltaspace.length + 1) : key;
  }

  function renderWorst(spaces) {
    var rows = spaces.filter(function (s) { return s.objects > 0; })
      .sort(function (a, b) { return a.savedPercent - b.savedPercent; })
      .slice(0, WORST_ROWS)
      .map(function (s) {
        return [
          cell(deltaspaceLabel(s.deltaspace), "key"),
          cell(formatCount(s.objects), "num"),
          cell(formatPercent(s.savedPercent), "num " + (s.savedPercent < 50 ? "bad" : "good")),
          cell(formatBytes(s.referenceBytes), "num"),
          cell(s.worst ? keyInDeltaspace(String(s.worst.key), s.deltaspace) : "–", "key", s.worst ? String(s.worst.key) : ""),
          cell(s.worst ? formatRatio(s.worst.ratio) : "–", "num"),
        ];
      });
    fillBody("worst", rows, "No deltaspaces yet.", 6);
  }

  function renderBuckets(all, current) {
    var t = all.totals, list = all.buckets || [];
    document.getElementById("all-buckets").textContent = formatCount(list.length) + (list.length === 1 ? " bucket, " : " buckets, ") +
      formatCount(t.objects) + " objects: " + formatBytes(t.logicalBytes) + " stored as " + formatBytes(t.storedBytes) +
      ", " + formatPercent(t.savedPercent) + " saved";
    var rows = list.map(function (b) {
      var row = [cell(String(b.bucket), "key"), cell(formatCount(b.objects), "num"), cell(formatBytes(b.logicalBytes), "num"),
        cell(formatBytes(b.storedBytes), "num"), cell(formatPercent(b.savedPercent), "num")];
      if (b.bucket === current) row.current = true;
      return row;
    });
    fillBody("buckets", rows, "No buckets.", 5);
  }

  function renderTypes(byType) {
    var rows = Object.keys(TYPE_LABELS).map(function (type) {
      var t = byType[type] || { objects: 0, logicalBytes: 0, storedBytes: 0 };
      return [cell(TYPE_LABELS[type]), cell(formatCount(t.objects), "num"), cell(formatBytes(t.logicalBytes), "num"),
        cell(formatBytes(t.storedBytes), "num")];
    });
    fillBody("types", rows, "", 4);
  }

  function renderRecent(recent) {
    var rows = recent.slice(0, RECENT_ROWS).map(function (r) {
      var type = el("td");
      if (r.storageType) type.appendChild(el("span", "tag", storageTypeName(r.storageType)));
      return [
        cell(formatTime(r.at), "nowrap", String(r.at)),
        cell(String(r.op)),
        cell(String(r.key), "key"),
        type,
        cell(typeof r.size === "number" ? formatBytes(r.size) : "–", "num"),
        cell(typeof r.storedBytes === "number" ? formatBytes(r.storedBytes) : "–", "num"),
      ];
    });
    fillBody("recent", rows, "Nothing written or deleted yet.", 6);
  }

  // ---- wiring ----
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(function () { if (!document.hidden) load(); schedule(); }, REFRESH_MS);
  }
  picker.addEventListener("change", function () {
    var url = new URL(location.href);
    url.searchParams.set("bucket", picker.value);
    history.replaceState(null, "", url.pathname + url.search);
    load();
  });
  document.getElementById("refresh").addEventListener("click", function () { load(); });

  getJson("/_/buckets").then(function (list) {
    var buckets = list.buckets || [];
    fillPicker(buckets, chooseBucket(buckets));
    return load();
  }).catch(showProblem).then(schedule);
})();
`;
