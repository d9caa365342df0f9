/* gitreg static site: filtering, sorting, column choice, plots and comparisons. No network, no framework. */
(function () {
  "use strict";
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  function deltaText(d) {
    d = Math.round(d * 1e12) / 1e12;
    var text = Number.isInteger(d) ? String(d) : String(parseFloat(d.toPrecision(6)));
    return (d >= 0 ? "+" : "") + text;
  }

  // index: filter models by name, tag, description and stage ("tag:x", "stage:x", "name:x" narrow a word)
  var search = document.getElementById("search"), stageFilter = document.getElementById("stage-filter");
  function filterModels() {
    var words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean), shown = 0;
    var stage = stageFilter ? stageFilter.value : "";
    $$("tr.model").forEach(function (tr) {
      var stages = (tr.getAttribute("data-stages") || "").split(" ");
      var hit = (!stage || stages.indexOf(stage) !== -1) && words.every(function (w) {
        var colon = w.indexOf(":"), field = colon > 0 ? w.slice(0, colon) : "", q = colon > 0 ? w.slice(colon + 1) : w;
        if (field === "tag") return (tr.getAttribute("data-tags") || "").split(" ").indexOf(q) !== -1;
        if (field === "stage") return stages.indexOf(q) !== -1;
        if (field === "name") return (tr.getAttribute("data-name") || "").indexOf(q) !== -1;
        return tr.getAttribute("data-text").indexOf(w) !== -1;
      });
      tr.hidden = !hit;
      if (hit) shown += 1;
    });
    document.getElementById("count").textContent = shown + " model(s)";
  }
  if (search) {
    search.addEventListener("input", filterModels);
    if (stageFilter) stageFilter.addEventListener("change", filterModels);
  }

  // sortable tables: click a header; numbers sort as numbers
  $$("table.sortable").forEach(function (table) {
    $$("thead th", table).forEach(function (th, col) {
      if (th.classList.contains("nosort")) return;
      th.classList.add("sort");
      th.addEventListener("click", function () {
        var numeric = th.getAttribute("data-type") === "num";
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        $$("thead th", table).forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        function key(tr) {
          var cell = tr.cells[col];
          var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim();
          if (numeric) { var n = parseFloat(raw); return isNaN(n) ? -Infinity : n; }
          return raw.toLowerCase();
        }
        rows.sort(function (a, b) { var x = key(a), y = key(b); return x < y ? -dir : x > y ? dir : 0; });
        rows.forEach(function (tr) { body.appendChild(tr); });
      });
    });
  });

  // model page: metadata columns chosen by the reader
  $$("input.colpick").forEach(function (box) {
    box.addEventListener("change", function () {
      $$('#versions .mcol[data-col="' + box.value + '"]').forEach(function (c) { c.hidden = !box.checked; });
    });
  });

  // model page: which numeric key the plot shows
  var plotKey = document.getElementById("plot-key");
  if (plotKey) {
    plotKey.addEventListener("change", function () {
      $$("figure.plot").forEach(function (f) { f.hidden = f.getAttribute("data-plot") !== plotKey.value; });
    });
  }

  // model page: compare the picked versions
  var picked = document.getElementById("compare-picked");
  if (picked) {
    picked.addEventListener("click", function () {
      var vs = $$("input.pick").filter(function (b) { return b.checked; }).map(function (b) { return "v=" + b.value; });
      window.location.href = picked.getAttribute("data-href") + (vs.length ? "?" + vs.join("&") : "");
    });
  }

  // compare page: ?v=1&v=3 picks the columns; deltas and statuses are against the first one shown
  var compare = document.getElementById("compare");
  if (compare) {
    var wanted = new URLSearchParams(window.location.search).getAll("v");
    var cols = $$("thead th.vcol", compare);
    var visible = cols.map(function (th) {
      return !wanted.length || wanted.indexOf(th.getAttribute("data-version")) !== -1;
    });
    if (visible.filter(Boolean).length === 0) visible = cols.map(function () { return true; });
    var first = visible.indexOf(true);
    $$(".vcol", compare).forEach(function (cell) {
      cell.hidden = !visible[parseInt(cell.getAttribute("data-col"), 10)];
    });
    $$("tbody tr", compare).forEach(function (tr) {
      var cells = $$("td.vcol", tr), texts = [];
      cells.forEach(function (td, i) { if (visible[i]) texts.push(td.textContent.replace(/\s*\([+-][^)]*\)\s*$/, "").trim()); });
      if (tr.classList.contains("meta")) {
        var base = cells[first].getAttribute("data-num");
        cells.forEach(function (td, i) {
          var out = td.querySelector(".delta"), num = td.getAttribute("data-num");
          if (!out) return;
          out.textContent = (i !== first && base !== null && num !== null)
            ? "(" + deltaText(parseFloat(num) - parseFloat(base)) + ")" : "";
        });
        texts = cells.filter(function (td, i) { return visible[i]; }).map(function (td) {
          return td.querySelector(".val").textContent;
        });
      } else if (tr.classList.contains("art")) {
        var sha0 = cells[first].getAttribute("data-sha");
        cells.forEach(function (td, i) {
          var st = td.querySelector(".status"), sha = td.getAttribute("data-sha");
          if (!st) return;
          if (i === first) st.textContent = sha === null ? "-" : "";
          else if (sha === null) st.textContent = sha0 === null ? "-" : "missing";
          else st.textContent = sha0 === null ? "added" : sha === sha0 ? "same bytes" : "changed";
        });
        texts = cells.filter(function (td, i) { return visible[i]; }).map(function (td) {
          return td.getAttribute("data-sha") || "";
        });
      }
      var differs = texts.some(function (t) { return t !== texts[0]; });
      tr.classList.toggle("differs", differs);
      tr.classList.toggle("same", !differs);
    });
    if (wanted.length) {  // the plots below mark the compared versions
      $$("figure.plot circle.pt").forEach(function (c) {
        c.classList.toggle("picked", wanted.indexOf(c.getAttribute("data-version")) !== -1);
      });
    }
    var only = document.getElementById("only-diff");
    if (only) {
      only.addEventListener("change", function () { compare.classList.toggle("only-diff", only.checked); });
    }
  }
})();
