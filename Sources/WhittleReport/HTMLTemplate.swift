/// The style and the treemap's script that every HTML report carries inline: the page
/// loads nothing from anywhere.
enum HTMLTemplate {
    static let style = """
        body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2733; margin: 0;
               background: #f6f7f9; }
        main { max-width: 1180px; margin: 0 auto; padding: 18px 24px 40px; }
        h1 { font-size: 22px; margin: 4px 0 2px; }
        h2 { font-size: 17px; margin: 26px 0 8px; border-bottom: 1px solid #d8dde3; padding-bottom: 3px; }
        .meta { color: #52606d; margin: 0 0 4px; }
        code { font: 12.5px ui-monospace, "DejaVu Sans Mono", monospace; }
        table { border-collapse: collapse; background: #fff; margin: 4px 0; }
        th, td { padding: 3px 10px; border-bottom: 1px solid #e4e7eb; text-align: left; vertical-align: top; }
        th { background: #eef1f4; font-weight: 600; }
        td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        .figures td.n { min-width: 90px; }
        .note { color: #52606d; font-size: 13px; }
        #crumbs { margin: 6px 0; min-height: 24px; }
        #crumbs button { font: inherit; border: 1px solid #c5ccd4; background: #fff; border-radius: 3px;
                         padding: 1px 7px; margin-right: 3px; cursor: pointer; }
        #crumbs button:last-child { font-weight: 600; }
        #treemap { width: 100%; height: auto; background: #fff; border: 1px solid #c5ccd4; display: block; }
        #treemap rect.cell { stroke: #fff; stroke-width: 0.5; cursor: zoom-in; }
        #treemap rect.dir { fill: #e6e9ed; stroke: #8a96a3; stroke-width: 0.6; cursor: zoom-in; }
        #treemap text { font-size: 11px; pointer-events: none; fill: #1d2733; }
        #treemap text.cell-label { fill: #101820; font-size: 10px; }
        #hover { min-height: 20px; margin: 4px 0; font-size: 13px; }
        #legend { list-style: none; padding: 0; margin: 6px 0; display: flex; flex-wrap: wrap; gap: 4px 18px; }
        #legend li { white-space: nowrap; }
        .swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -1px; margin-right: 5px;
                  border: 1px solid rgba(0,0,0,.25); }
        """

    /// Reads the embedded data, draws a squarified treemap in SVG, zooms on click, and
    /// writes the totals it drew into `#totals` as data attributes, so a test can set them
    /// against the JSON report.
    static let script = #"""
        "use strict";
        (function () {
          var data = JSON.parse(document.getElementById("treemap-data").textContent);
          var cats = data.categories, NS = "http://www.w3.org/2000/svg";
          var svg = document.getElementById("treemap"), W = 1000, H = 600;
          var hover = document.getElementById("hover");

          function build(a, parent) {
            if (a.length === 2) {
              var dir = { name: a[0], parent: parent, kids: [], bytes: 0, files: 0 };
              a[1].forEach(function (k) {
                var child = build(k, dir);
                dir.kids.push(child); dir.bytes += child.bytes; dir.files += child.files;
              });
              return dir;
            }
            return { name: a[0], parent: parent, bytes: a[1], files: a[2], cat: a[3],
                     rule: a.length > 4 ? a[4] : -1, folded: a.length === 4 };
          }
          var root = build(data.root, null), view = root;

          function human(b) {
            var units = ["B", "KiB", "MiB", "GiB", "TiB"], v = b, u = 0;
            while (Math.abs(v) >= 1024 && u < units.length - 1) { v /= 1024; u++; }
            return u === 0 ? b + " B" : v.toFixed(1) + " " + units[u];
          }
          function pathOf(n) {
            var parts = [];
            for (var m = n; m && m.parent; m = m.parent) parts.unshift(m.folded ? "" : m.name);
            return "/" + parts.filter(function (p) { return p !== ""; }).join("/");
          }

          // Totals by category, and what stays against what goes.
          var byCat = cats.map(function () { return { bytes: 0, files: 0 }; });
          (function tally(n) {
            if (n.kids) { n.kids.forEach(tally); return; }
            byCat[n.cat].bytes += n.bytes; byCat[n.cat].files += n.files;
          })(root);
          var sums = { kept: { bytes: 0, files: 0 }, removed: { bytes: 0, files: 0 } };
          cats.forEach(function (c, i) { sums[c.kind].bytes += byCat[i].bytes; sums[c.kind].files += byCat[i].files; });
          var totals = document.getElementById("totals");
          totals.dataset.beforeBytes = root.bytes; totals.dataset.beforeFiles = root.files;
          totals.dataset.afterBytes = sums.kept.bytes; totals.dataset.afterFiles = sums.kept.files;
          totals.dataset.removedBytes = sums.removed.bytes; totals.dataset.removedFiles = sums.removed.files;
          totals.textContent = "The map holds " + root.files + " files, " + human(root.bytes) + ": " +
            human(sums.kept.bytes) + " " + totals.dataset.keptWord + ", " + human(sums.removed.bytes) + " " +
            totals.dataset.removedWord + ".";

          var legend = document.getElementById("legend");
          cats.map(function (c, i) { return i; }).filter(function (i) { return byCat[i].files > 0; })
            .sort(function (a, b) {
              return cats[a].kind !== cats[b].kind ? (cats[a].kind === "kept" ? -1 : 1) : byCat[b].bytes - byCat[a].bytes;
            })
            .forEach(function (i) {
              var li = document.createElement("li"), sw = document.createElement("span");
              sw.className = "swatch"; sw.style.background = cats[i].color;
              li.appendChild(sw);
              var share = root.bytes > 0 ? " (" + (100 * byCat[i].bytes / root.bytes).toFixed(1) + " %)" : "";
              li.appendChild(document.createTextNode(cats[i].name + ": " + human(byCat[i].bytes) + share +
                ", " + byCat[i].files + (byCat[i].files === 1 ? " file" : " files")));
              li.dataset.category = cats[i].name; li.dataset.bytes = byCat[i].bytes;
              legend.appendChild(li);
            });

          // Squarified layout: rows along the shorter side, each row as square as it gets.
          function worst(sum, min, max, side) {
            var s2 = side * side, sum2 = sum * sum;
            return Math.max(s2 * max / sum2, sum2 / (s2 * min));
          }
          function layout(items, x, y, w, h) {
            var total = items.reduce(function (s, n) { return s + n.bytes; }, 0), out = [];
            if (total <= 0 || w <= 0 || h <= 0) {
              items.forEach(function (n) { out.push([n, x, y, 0, 0]); });
              return out;
            }
            var scale = w * h / total, i = 0;
            while (i < items.length) {
              var side = Math.min(w, h), first = items[i].bytes * scale;
              var row = [items[i]], sum = first, min = first, max = first, best = worst(sum, min, max, side);
              for (i++; i < items.length; i++) {
                var a = items[i].bytes * scale;
                var next = worst(sum + a, Math.min(min, a), Math.max(max, a), side);
                if (next > best) break;
                row.push(items[i]); sum += a; min = Math.min(min, a); max = Math.max(max, a); best = next;
              }
              var thick = sum / side, at = 0;
              row.forEach(function (n) {
                var len = n.bytes * scale / thick;
                out.push(w >= h ? [n, x, y + at, thick, len] : [n, x + at, y, len, thick]);
                at += len;
              });
              if (w >= h) { x += thick; w -= thick; } else { y += thick; h -= thick; }
            }
            return out;
          }

          function el(name, attrs, parent) {
            var e = document.createElementNS(NS, name);
            for (var k in attrs) e.setAttribute(k, attrs[k]);
            parent.appendChild(e);
            return e;
          }
          function label(text, x, y, w, cls) {
            var max = Math.floor(w / 6.2);
            if (max < 3) return;
            el("text", { x: x, y: y, "class": cls }, svg).textContent = text.length > max ? text.slice(0, max - 1) + "…" : text;
          }
          function nameOf(n) { return n.folded ? n.files + " small files" : n.name; }

          // A directory holding nothing but one directory is drawn as one: usr/local/lib/….
          function collapse(n) {
            for (;;) {
              var big = n.kids.filter(function (k) { return k.bytes > 0; });
              if (big.length !== 1 || !big[0].kids) return n;
              n = big[0];
            }
          }
          // Out to the nearest directory that draws differently (not one of a chain).
          function outOf(dir) {
            var up = dir.parent;
            while (up.parent && collapse(up) === collapse(dir)) up = up.parent;
            return up;
          }
          function pathBetween(top, n) {
            var parts = [];
            for (var m = n; m && m !== top; m = m.parent) parts.unshift(m.name);
            return parts.join("/");
          }

          function draw(dir, x, y, w, h) {
            var items = dir.kids.filter(function (n) { return n.bytes > 0; })
              .sort(function (a, b) { return b.bytes - a.bytes; });
            layout(items, x, y, w, h).forEach(function (p) {
              var n = p[0], px = p[1], py = p[2], pw = p[3], ph = p[4];
              if (n.kids) {
                el("rect", { "class": "dir", x: px, y: py, width: pw, height: ph }, svg).node = n;
                var head = pw > 40 && ph > 30 ? 14 : 0, pad = pw > 8 && ph > 8 ? 1.5 : 0, inner = collapse(n);
                if (head) label(pathBetween(dir, inner) + "/ " + human(n.bytes), px + 3, py + 11, pw - 6, "dir-label");
                draw(inner, px + pad, py + head + pad, Math.max(0, pw - 2 * pad), Math.max(0, ph - head - 2 * pad));
              } else {
                el("rect", { "class": "cell", x: px, y: py, width: pw, height: ph, fill: cats[n.cat].color }, svg).node = n;
                if (pw > 50 && ph > 14) label(nameOf(n), px + 3, py + 11, pw - 6, "cell-label");
              }
            });
          }

          var crumbs = document.getElementById("crumbs");
          function show(dir) {
            view = dir;
            while (svg.firstChild) svg.removeChild(svg.firstChild);
            draw(dir, 0, 0, W, H);
            totals.dataset.cells = svg.querySelectorAll("rect.cell").length;
            totals.dataset.view = pathOf(dir);
            crumbs.textContent = "";
            var chain = [];
            for (var m = dir; m; m = m.parent) chain.unshift(m);
            chain.forEach(function (m) {
              var b = document.createElement("button");
              b.textContent = m.parent ? m.name + "/" : "/ (" + human(root.bytes) + ")";
              b.onclick = function () { show(m); };
              crumbs.appendChild(b);
            });
            if (dir.parent) {
              var up = document.createElement("button");
              up.textContent = "⤴ back out"; up.id = "back-out";
              up.onclick = function () { show(outOf(dir)); };
              crumbs.appendChild(up);
            }
          }

          svg.addEventListener("click", function (e) {
            var n = e.target.node;
            if (!n) return;
            while (n.parent && n.parent !== view) n = n.parent;
            if (n.kids && n !== view) show(collapse(n));
          });
          svg.addEventListener("mousemove", function (e) {
            var n = e.target.node;
            if (!n) { hover.textContent = ""; return; }
            var text = (n.folded ? pathOf(n.parent) + "/: " + n.files + " files under " + human(data.threshold) + " each"
                                 : pathOf(n) + (n.kids ? "/" : "")) + ": " + human(n.bytes);
            if (!n.kids) text += " · " + cats[n.cat].name + (n.rule >= 0 ? " (" + data.rules[n.rule] + ")" : "");
            else text += ", " + n.files + " files (click to zoom in)";
            hover.textContent = text;
          });
          document.addEventListener("keydown", function (e) {
            if ((e.key === "Escape" || e.key === "Backspace") && view.parent) show(outOf(view));
          });
          svg.setAttribute("viewBox", "0 0 " + W + " " + H);
          // A link such as report.html#/usr/lib opens zoomed into that directory.
          var start = root;
          decodeURIComponent(location.hash.slice(1)).split("/").forEach(function (name) {
            var next = name && start.kids.filter(function (k) { return k.kids && k.name === name; })[0];
            if (next) start = next;
          });
          show(start);
        })();
        """#
}
