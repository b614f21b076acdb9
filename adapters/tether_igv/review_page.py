"""``index.html`` of a review run: one self-contained page (no network, no library).

- a table: locus, ID, REF/ALT, QUAL, FILTER, a thumbnail, the verdict, a "View in IGV" link
  (a ``/load`` or ``/goto`` link on IGV's port, :mod:`tether_igv.links`);
- a large view of the current region: ``→``/``j`` next, ``←``/``k`` previous, ``1``/``2``/``3``
  (or ``r``/``a``/``u``) for the verdicts real / artefact / unsure;
- verdicts kept in the browser (``localStorage``, per page) and downloadable as
  ``verdicts.tsv`` (``stem, locus, id, verdict``); ``window.tetherReview.tsv()`` returns the
  same text, and ``window.tetherReview.lastBlob`` the last file the button built.

The data goes into the page as JSON inside ``<script type="application/json">`` with ``<``,
``>`` and ``&`` escaped, and the page's script writes it with ``textContent`` only: nothing from
a VCF or a file name is ever read as HTML.
"""

from __future__ import annotations

import hashlib
import html
import json
from typing import TYPE_CHECKING, Any

from tether.errors import TetherError

if TYPE_CHECKING:  # pragma: no cover
    from .review import ReviewResult


def _link(result: ReviewResult, locus: str, options: dict[str, Any], port: int | None) -> str | None:
    from .links import goto_url, load_url

    try:
        tracks = options.get("tracks") or []
        if tracks:
            return load_url(list(tracks), locus=locus, genome=options.get("genome"), port=port)
        return goto_url([locus], port=port)
    except TetherError:
        return None


def page_data(result: ReviewResult, options: dict[str, Any], port: int | None = None) -> dict[str, Any]:
    rows = []
    for entry in result.entries:
        r = entry.region
        rows.append(
            {
                "stem": r.stem,
                "locus": r.locus,
                "pos": f"{r.chrom}:{r.pos}" if r.pos else r.locus,
                "name": r.name,
                "id": r.id or "",
                "ref": r.ref or "",
                "alt": r.alt or "",
                "qual": r.qual or "",
                "filter": r.filter or "",
                "source": r.source,
                "image": entry.image if entry.status == "done" else None,
                "error": entry.error if entry.status != "done" else None,
                "igv": _link(result, r.locus, options, port),
            }
        )
    key = "tether-review:" + hashlib.sha256(str(result.directory).encode()).hexdigest()[:16]
    return {"key": key, "rows": rows, "skipped": [b.to_dict() for b in result.bad]}


def _json_for_script(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def write_page(result: ReviewResult, title: str | None = None, port: int | None = None) -> None:
    options: dict[str, Any] = {}
    try:
        options = json.loads(result.manifest.read_text(encoding="utf-8")).get("options") or options
    except (OSError, ValueError, AttributeError):
        pass
    title = title or f"IGV review: {len(result.entries)} region(s)"
    data = page_data(result, options, port)
    tmp = result.page.with_name(f".{result.page.name}.tmp")
    tmp.write_text(render(title, data), encoding="utf-8")
    tmp.replace(result.page)


def render(title: str, data: dict[str, Any]) -> str:
    return (
        _PAGE.replace("__TITLE__", html.escape(title))
        .replace("__DATA__", _json_for_script(data))
        .replace("__SCRIPT__", _SCRIPT)
    )


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font-family: system-ui, sans-serif; margin: 0; display: grid; grid-template-columns: minmax(36em, 44%) 1fr; height: 100vh; }
#list { overflow: auto; border-right: 1px solid #ccc; }
#view { overflow: auto; padding: 0 1em 1em; }
h1 { font-size: 1.1em; margin: .6em; }
table { border-collapse: collapse; font-size: .85em; width: 100%; }
th, td { padding: .25em .4em; border-bottom: 1px solid #eee; text-align: left; vertical-align: middle; }
th { position: sticky; top: 0; background: #f6f6f6; }
tr.current { background: #e8f0ff; }
tr { cursor: pointer; }
td img { width: 96px; display: block; border: 1px solid #ddd; }
.v-real { color: #08660d; font-weight: bold; } .v-artefact { color: #a30000; font-weight: bold; } .v-unsure { color: #8a6d00; font-weight: bold; }
.failed { color: #a30000; }
#big { max-width: 100%; border: 1px solid #ccc; }
#buttons button { font-size: 1em; margin: .2em .3em .6em 0; padding: .3em .9em; }
#buttons button.on { outline: 3px solid #36c; }
.help { color: #666; font-size: .85em; }
</style></head>
<body>
<div id="list"><h1>__TITLE__</h1>
<p class="help"><span id="counts"></span> <button id="download" type="button">Download verdicts.tsv</button></p>
<table><thead><tr><th>#</th><th>Locus</th><th>ID</th><th>REF/ALT</th><th>QUAL</th><th>FILTER</th><th>Image</th><th>Verdict</th><th>IGV</th></tr></thead>
<tbody id="rows"></tbody></table>
<div id="skipped"></div></div>
<div id="view"><h2 id="caption"></h2>
<div id="buttons"><button type="button" data-v="real">Real (1)</button><button type="button" data-v="artefact">Artefact (2)</button><button type="button" data-v="unsure">Unsure (3)</button> <a id="open" href="#">View in IGV</a></div>
<p class="help">&larr;/&rarr; or k/j: previous/next &middot; 1/2/3 or r/a/u: verdict &middot; verdicts stay in this browser; download them as TSV</p>
<img id="big" alt=""><p id="problem" class="failed"></p></div>
<script type="application/json" id="data">__DATA__</script>
<script>__SCRIPT__</script>
</body></html>
"""

_SCRIPT = r"""
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("data").textContent);
  const rows = data.rows;
  let verdicts = {};
  try { verdicts = JSON.parse(localStorage.getItem(data.key) || "{}") || {}; } catch (e) { verdicts = {}; }
  let current = 0;
  const body = document.getElementById("rows");
  const trs = [];
  function cell(tr, text, cls) { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; }
  rows.forEach(function (r, i) {
    const tr = document.createElement("tr");
    tr.dataset.stem = r.stem;
    cell(tr, String(i + 1));
    cell(tr, r.pos);
    cell(tr, r.id || (r.name !== r.locus ? r.name : ""));
    cell(tr, r.ref || r.alt ? r.ref + "/" + r.alt : "");
    cell(tr, r.qual);
    cell(tr, r.filter);
    const td = cell(tr, "");
    if (r.image) {
      const img = document.createElement("img");
      img.src = r.image; img.alt = r.locus;
      if (rows.length > 200) img.loading = "lazy";
      td.appendChild(img);
    } else {
      td.textContent = "failed: " + (r.error || "no image"); td.className = "failed";
    }
    cell(tr, "", "verdict");
    const link = cell(tr, "");
    if (r.igv) { const a = document.createElement("a"); a.href = r.igv; a.textContent = "View in IGV"; a.className = "igv"; a.target = "_blank"; a.addEventListener("click", function (ev) { ev.stopPropagation(); }); link.appendChild(a); }
    tr.addEventListener("click", function () { show(i); });
    body.appendChild(tr); trs.push(tr);
  });
  if (data.skipped.length) {
    const p = document.createElement("p"); p.className = "failed";
    p.textContent = "Skipped: " + data.skipped.map(function (b) { return b.source + ": " + b.reason; }).join("; ");
    document.getElementById("skipped").appendChild(p);
  }
  function paintVerdicts() {
    let n = 0;
    rows.forEach(function (r, i) {
      const v = verdicts[r.stem] || "";
      if (v) n++;
      const td = trs[i].querySelector("td.verdict");
      td.textContent = v; td.className = "verdict" + (v ? " v-" + v : "");
    });
    document.getElementById("counts").textContent = rows.length + " region(s), " + n + " with a verdict.";
    const v = rows.length ? verdicts[rows[current].stem] : null;
    document.querySelectorAll("#buttons button").forEach(function (b) { b.classList.toggle("on", b.dataset.v === v); });
  }
  function show(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    const r = rows[current];
    trs.forEach(function (tr, k) { tr.classList.toggle("current", k === current); });
    trs[current].scrollIntoView({ block: "nearest" });
    document.getElementById("caption").textContent = (current + 1) + "/" + rows.length + "  " + r.pos + (r.id ? "  " + r.id : "") + (r.ref || r.alt ? "  " + r.ref + ">" + r.alt : "") + (r.filter ? "  " + r.filter : "");
    const big = document.getElementById("big");
    if (r.image) { big.src = r.image; big.alt = r.locus; big.style.display = ""; } else { big.removeAttribute("src"); big.style.display = "none"; }
    document.getElementById("problem").textContent = r.image ? "" : "No image: " + (r.error || "not drawn");
    const open = document.getElementById("open");
    if (r.igv) { open.href = r.igv; open.style.display = ""; } else { open.style.display = "none"; }
    paintVerdicts();
  }
  function setVerdict(v) {
    if (!rows.length) return;
    const stem = rows[current].stem;
    if (verdicts[stem] === v) delete verdicts[stem]; else verdicts[stem] = v;
    try { localStorage.setItem(data.key, JSON.stringify(verdicts)); } catch (e) { /* private mode: kept for this visit */ }
    paintVerdicts();
  }
  function tsv() {
    const clean = function (s) { return String(s == null ? "" : s).replace(/[\t\r\n]/g, " "); };
    const lines = ["stem\tlocus\tid\tverdict"];
    rows.forEach(function (r) { lines.push([r.stem, r.locus, r.id, verdicts[r.stem] || ""].map(clean).join("\t")); });
    return lines.join("\n") + "\n";
  }
  const api = { tsv: tsv, show: show, setVerdict: setVerdict, lastBlob: null, verdicts: function () { return Object.assign({}, verdicts); } };
  window.tetherReview = api;
  document.getElementById("download").addEventListener("click", function () {
    const blob = new Blob([tsv()], { type: "text/tab-separated-values" });
    api.lastBlob = blob;
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob); a.download = "verdicts.tsv";
    document.body.appendChild(a); a.click(); a.remove();
  });
  document.querySelectorAll("#buttons button").forEach(function (b) { b.addEventListener("click", function () { setVerdict(b.dataset.v); }); });
  document.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const k = ev.key;
    if (k === "ArrowRight" || k === "j" || k === "ArrowDown") { show(current + 1); ev.preventDefault(); }
    else if (k === "ArrowLeft" || k === "k" || k === "ArrowUp") { show(current - 1); ev.preventDefault(); }
    else if (k === "1" || k === "r") setVerdict("real");
    else if (k === "2" || k === "a") setVerdict("artefact");
    else if (k === "3" || k === "u") setVerdict("unsure");
  });
  show(0);
})();
"""
