// Search trees of the theorem page: laid out by d3-hierarchy (d3.stratify + d3.tree),
// drawn as SVG. One tree per (file, search), in the page's <details> boxes, drawn when
// a box is first opened. Trees over COLLAPSE_AT nodes open collapsed to their proof
// path: every node shows only its proof-path children, with a "+N" badge for the rest
// (a click on the badge expands them). Clicking a node shows its state and numbers
// in the side panel; hovering shows them in a tooltip.
(function () {
  "use strict";
  const COLLAPSE_AT = 40;
  const DX = 26;   // px between siblings
  const DY = 220;  // px between depths (room for the tactic on the edge)
  const MARGIN = { top: 20, right: 120, bottom: 20, left: 30 };
  const TACTIC_CHARS = 26;
  const SVG = "http://www.w3.org/2000/svg";

  const payload = JSON.parse(document.getElementById("trees-data").textContent);
  const trees = new Map();  // key -> {spec, root, mode: Map(node id -> 'all'|'path'|'none'), box}

  function svg(tag, attrs, parent) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    if (parent) parent.appendChild(el);
    return el;
  }

  function shorten(text, n) {
    const one = (text || "").replace(/\s+/g, " ").trim();
    return one.length > n ? one.slice(0, n - 1) + "…" : one;
  }

  function fmt(x) {
    return typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toFixed(4)) : (x === null ? "—" : String(x));
  }

  // The stratified tree of one search. Records whose parent is not in the search (or
  // several roots) hang under a virtual root, so a damaged file still draws.
  function stratify(spec) {
    const ids = new Set(spec.nodes.map((n) => n.id));
    const rows = spec.nodes.map((n) => ({ ...n, pid: n.parent !== null && ids.has(n.parent) ? n.parent : null }));
    if (rows.filter((r) => r.pid === null).length > 1) {
      rows.forEach((r) => { if (r.pid === null) r.pid = "virtual"; });
      rows.push({ id: "virtual", pid: null, virtual: true, label: "unknown", tactic: "", path: false });
    }
    return d3.stratify().id((d) => String(d.id)).parentId((d) => (d.pid === null ? null : String(d.pid)))(rows);
  }

  function initialModes(root, size) {
    const mode = new Map();
    const proved = root.descendants().some((n) => n.data.path);
    root.each((n) => {
      if (size <= COLLAPSE_AT) mode.set(n.id, "all");
      else if (proved) mode.set(n.id, n.data.path ? "path" : "none");
      else mode.set(n.id, n === root ? "all" : "none");
    });
    return mode;
  }

  function visibleChildren(tree, n) {
    const kids = n.children || [];
    const m = tree.mode.get(n.id);
    if (m === "all") return kids;
    if (m === "path") return kids.filter((c) => c.data.path);
    return [];
  }

  function tooltip(d) {
    return [`node ${d.id} · ${d.label}${d.relabelled ? ` (file: ${d.file_label})` : ""}` +
      `${d.complete ? " · proof complete" : ""}${d.path ? " · on the proof path" : ""}`,
      `depth ${fmt(d.depth)} · remaining ${fmt(d.remaining)}`,
      `llm_log_prob ${fmt(d.llm)} · ebm_score ${fmt(d.ebm)}`,
      d.tactic ? `tactic: ${d.tactic}` : "(root)", "", shorten(d.state, 300) || "(empty state)"].join("\n");
  }

  function draw(tree) {
    const container = tree.box.querySelector(".tree");
    container.textContent = "";
    const shown = d3.hierarchy(tree.root, (n) => visibleChildren(tree, n));
    d3.tree().nodeSize([DX, DY])(shown);
    let x0 = Infinity, x1 = -Infinity, y1 = 0;
    shown.each((d) => { x0 = Math.min(x0, d.x); x1 = Math.max(x1, d.x); y1 = Math.max(y1, d.y); });
    const width = y1 + MARGIN.left + MARGIN.right, height = x1 - x0 + MARGIN.top + MARGIN.bottom;
    const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "tree-svg" }, container);
    const g = svg("g", { transform: `translate(${MARGIN.left},${MARGIN.top - x0})` }, root);
    const links = svg("g", { class: "links" }, g), labels = svg("g", { class: "edge-labels" }, g);
    for (const l of shown.links()) {
      const s = l.source, t = l.target, mid = (s.y + t.y) / 2;
      const onPath = s.data.data.path && t.data.data.path;
      svg("path", { d: `M${s.y},${s.x}C${mid},${s.x} ${mid},${t.x} ${t.y},${t.x}`, class: onPath ? "link on-path" : "link" }, links);
      const text = svg("text", { x: t.y - 15, y: t.x - 6, class: onPath ? "tactic on-path" : "tactic" }, labels);
      text.textContent = shorten(t.data.data.tactic, TACTIC_CHARS);
      svg("title", {}, text).textContent = t.data.data.tactic;
    }
    const nodes = svg("g", { class: "nodes" }, g);
    shown.each((d) => drawNode(tree, d, nodes));
    if (tree.selected) select(tree, tree.selected, false);
  }

  function drawNode(tree, d, parent) {
    const n = d.data, row = n.data;
    const cls = ["node", row.label, row.path ? "on-path" : "", row.complete ? "complete" : "",
      row.relabelled ? "relabelled" : "", row.virtual ? "virtual" : ""];
    const g = svg("g", { class: cls.join(" ").trim(), transform: `translate(${d.y},${d.x})`, "data-id": n.id,
      "data-label": row.label, "data-path": row.path ? "1" : "0" }, parent);
    if (row.complete) svg("circle", { r: 11, class: "complete-ring" }, g);
    if (row.relabelled) svg("circle", { r: 9.5, class: "relabel-ring" }, g);
    svg("circle", { r: 7, class: "dot" }, g);
    svg("title", {}, g).textContent = row.virtual ? "roots of this search" : tooltip(row);
    const id = svg("text", { x: 13, y: 4, class: "node-id" }, g);
    id.textContent = row.virtual ? "" : String(row.id);
    g.addEventListener("click", (ev) => { ev.stopPropagation(); if (!row.virtual) select(tree, n.id, true); });
    const hidden = (n.children || []).length - visibleChildren(tree, n).length;
    if (hidden > 0 || (tree.collapsible && n.children && tree.mode.get(n.id) === "all" && !row.virtual)) {
      const label = hidden > 0 ? `+${hidden}` : "−", width = 8 + 7 * label.length;
      const badge = svg("g", { class: "badge", transform: `translate(${17 + 6.2 * String(row.id).length},0)` }, g);
      svg("rect", { x: 0, y: -8, width, height: 15, rx: 7 }, badge);
      svg("text", { x: width / 2, y: 4 }, badge).textContent = label;
      svg("title", {}, badge).textContent = hidden > 0 ? `show ${hidden} more children` : "hide the children off the proof path";
      badge.addEventListener("click", (ev) => {
        ev.stopPropagation();
        tree.mode.set(n.id, hidden > 0 ? "all" : (row.path ? "path" : "none"));
        draw(tree);
      });
    }
  }

  function select(tree, id, scroll) {
    document.querySelectorAll(".node.selected").forEach((el) => el.classList.remove("selected"));
    tree.selected = id;
    const el = tree.box.querySelector(`.node[data-id="${CSS.escape(String(id))}"]`);
    if (el) {
      el.classList.add("selected");
      if (scroll) el.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
    const row = tree.root.find((n) => n.id === String(id)).data;
    showDetails(tree, row);
  }

  function showDetails(tree, row) {
    document.getElementById("node-hint").hidden = true;
    document.getElementById("node-body").hidden = false;
    const fields = [["file", tree.spec.source], ["search", tree.spec.search], ["node", row.id], ["parent", row.parent],
      ["label", row.label], ["file label", row.file_label], ["relabelled by the tree", row.relabelled ? "yes" : "no"],
      ["distance to a proof", row.distance],
      ["proof complete", row.complete ? "yes" : "no"], ["on the proof path", row.path ? "yes" : "no"],
      ["tactic", row.tactic || "(root)"], ["depth", row.depth], ["remaining depth", row.remaining],
      ["llm_log_prob", row.llm], ["ebm_score", row.ebm], ["q_value", row.q], ["visits", row.visits], ["file row", row.row]];
    if (row.value) {  // the state's value targets in this theorem's split (values_train / values_val)
      fields.push(["value: provable", row.value.provable ? "yes" : "no"], ["value: distance", row.value.distance],
        ["value: nodes", row.value.nodes], ["value: visits", row.value.visits], ["value: q_value", row.value.q]);
    }
    const table = document.getElementById("node-fields");
    table.textContent = "";
    for (const [k, v] of fields) {
      const tr = table.insertRow();
      tr.insertCell().textContent = k;
      const td = tr.insertCell();
      td.textContent = fmt(v);
      td.dataset.field = k;
    }
    document.getElementById("node-state").textContent = row.state === "" ? "(empty state: the proof is complete)" : row.state;
  }

  // Open the tree of "SOURCE/SEARCH/ID", expand the way down to the node and select it.
  function focus(target) {
    const cut = target.lastIndexOf("/");
    const tree = trees.get(target.slice(0, cut));
    if (!tree) return;
    tree.box.open = true;
    ensure(tree);
    const node = tree.root.find((n) => n.id === target.slice(cut + 1));
    if (!node) return;
    for (const a of node.ancestors().slice(1)) tree.mode.set(a.id, "all");
    draw(tree);
    select(tree, node.id, true);
  }

  function ensure(tree) {
    if (tree.drawn) return;
    tree.drawn = true;
    try {
      draw(tree);
    } catch (err) {
      tree.box.querySelector(".tree").textContent = `This search cannot be drawn as a tree: ${err.message}`;
    }
  }

  for (const spec of payload.trees) {
    const box = document.querySelector(`details.tree-box[data-key="${CSS.escape(spec.key)}"]`);
    let root;
    try {
      root = stratify(spec);
    } catch (err) {
      box.querySelector(".tree").textContent = `This search cannot be drawn as a tree: ${err.message}`;
      continue;
    }
    const tree = { spec, root, box, mode: initialModes(root, spec.nodes.length), collapsible: spec.nodes.length > COLLAPSE_AT };
    trees.set(spec.key, tree);
    box.addEventListener("toggle", () => { if (box.open) ensure(tree); });
    if (box.open) ensure(tree);
  }
  document.querySelectorAll("a.focus").forEach((a) => a.addEventListener("click", (ev) => {
    ev.preventDefault();
    focus(a.dataset.focus);
  }));
  if (payload.focus) focus(payload.focus);
})();
