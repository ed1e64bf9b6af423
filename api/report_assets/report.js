// The pda report's script: draws the index (a sortable table with lazily loaded thumbnails) or one
// input's page (maps over the photo with threshold, opacity and colour bars; runs side by side;
// hidden layers by channel; volumes in three linked slice views) from the JSON data in the page.
// Plain JavaScript, no libraries, nothing fetched: the data and the photo are in the page itself.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("pda-data").textContent);
  const app = document.getElementById("app");

  // ---- small helpers ----------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }
  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }
  function bytesOf(b64) {
    const bin = atob(b64), out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; ++i) out[i] = bin.charCodeAt(i);
    return out;
  }
  // A quantised map ({shape, bits, scale, b64}) as float values in the map's units.
  function decodeMap(m) {
    const raw = bytesOf(m.b64);
    const q = m.bits === 16 ? new Int16Array(raw.buffer, 0, raw.length >> 1) : new Int8Array(raw.buffer);
    const out = new Float32Array(q.length);
    for (let i = 0; i < q.length; ++i) out[i] = q[i] * m.scale;
    return out;
  }
  function fmt(v) {
    if (!isFinite(v) || v === 0) return "0";
    const s = Math.abs(v).toPrecision(3);
    return (v > 0 ? "+" : "\u2212") + String(Number(s));
  }
  function mag(v) { return fmt(Math.abs(v)).replace(/^\+/, ""); }
  function pct(p) { return (100 * p).toFixed(p >= 0.995 ? 1 : 2) + " %"; }
  // Colour of value v over grey bg, as the figures (io/heatmap.h): towards red (for) or blue
  // (against) with alpha |v| / limit, times the opacity; nothing under the cut.
  function paint(px, o, v, limit, cut, bg, opacity) {
    const a = limit > 0 && Math.abs(v) > cut ? Math.min(1, Math.abs(v) / limit) * opacity : 0;
    const base = bg * (1 - a);
    px[o] = v > 0 ? base + a * 255 : base;
    px[o + 1] = base;
    px[o + 2] = v < 0 ? base + a * 255 : base;
    px[o + 3] = 255;
  }

  // A vertical colour bar from +limit (top) to −limit (bottom), grey where values are not drawn.
  function colourBar(unit) {
    const canvas = el("canvas", { width: 14, height: 160 });
    const top = el("span"), mid = el("span", { text: "0" }), bottom = el("span"), cut = el("span");
    const box = el("div", { class: "colourbar" }, canvas, el("div", { class: "ticks" }, top, cut, mid, bottom),
                   el("div", { class: "unit", text: unit }));
    box.update = function (limit, threshold) {
      const ctx = canvas.getContext("2d"), img = ctx.createImageData(14, 160);
      for (let y = 0; y < 160; ++y) {
        const v = limit * (1 - (2 * (y + 0.5)) / 160);
        for (let x = 0; x < 14; ++x) paint(img.data, (y * 14 + x) * 4, v, limit, threshold * limit, 128, 1);
      }
      ctx.putImageData(img, 0, 0);
      top.textContent = fmt(limit);
      bottom.textContent = fmt(-limit);
      cut.textContent = threshold > 0 && limit > 0 ? "|v| \u2264 " + mag(threshold * limit) + " hidden" : "";
    };
    return box;
  }

  function slider(id, label, min, max, value, format) {
    const input = el("input", { type: "range", id: id, min: min, max: max, step: 1, value: value });
    const out = el("output", { for: id });
    const show = () => { out.textContent = format(Number(input.value)); };
    input.addEventListener("input", show);
    show();
    return { input: input, label: el("label", {}, label, input, out) };
  }

  function header(title, sub, back) {
    return el("header", {}, back ? el("p", {}, el("a", { href: back }, "\u2190 all inputs")) : null,
              el("h1", { text: title }), sub ? el("p", { text: sub }) : null);
  }

  function paramsTable(runs) {
    const keys = [];
    for (const r of runs) for (const k of Object.keys(r.params)) if (!keys.includes(k)) keys.push(k);
    const head = el("tr", {}, el("th", { text: "parameter" }), ...runs.map((r) => el("th", { text: r.label })));
    const rows = keys.map((k) => el("tr", {}, el("td", { text: k }),
      ...runs.map((r) => el("td", { text: k in r.params ? (typeof r.params[k] === "string" ? r.params[k] : JSON.stringify(r.params[k])) : "" }))));
    return el("table", { class: "params" }, el("thead", {}, head), el("tbody", {}, ...rows));
  }

  // The threshold, opacity and shared-scale controls every page has; onChange redraws.
  function commonControls(runs, onChange) {
    const t = slider("threshold", "threshold", 0, 100, Math.round(100 * data.threshold), (v) => v + " % of max |value|");
    const o = slider("opacity", "opacity", 0, 100, 80, (v) => v + " %");
    const bar = el("div", { class: "controls" }, t.label, o.label);
    let shared = null;
    if (runs.length > 1) {
      shared = el("input", { type: "checkbox", id: "shared" });
      shared.checked = !!data.shared_scale;
      bar.append(el("label", {}, shared, "one colour scale across runs"));
      shared.addEventListener("change", onChange);
    }
    t.input.addEventListener("input", onChange);
    o.input.addEventListener("input", onChange);
    return {
      bar: bar,
      threshold: () => Number(t.input.value) / 100,
      opacity: () => Number(o.input.value) / 100,
      shared: () => !!(shared && shared.checked),
    };
  }

  // A note where a run explained more classes than the page shows.
  function classesNote(runs) {
    const cut = runs.filter((r) => r.explained > r.classes.length);
    return cut.length ? el("p", { class: "note", text: cut.map((r) => r.classes.length + " of the " + r.explained +
      " explained classes of run " + r.label.split(":")[0] + " are shown, the most probable (pda report --classes)").join("; ") }) : null;
  }

  // Per class id, the largest limit over the runs (the shared colour scale).
  function sharedLimits(runs) {
    const lim = {};
    for (const r of runs) for (const c of r.classes) lim[c.id] = Math.max(lim[c.id] || 0, c.map.limit);
    return lim;
  }

  // ---- index --------------------------------------------------------------------------------------
  function indexPage() {
    const items = data.items;
    const volumes = items.filter((it) => it.kind === "volume").length;
    app.append(header(data.title, items.length + " inputs" + (volumes ? " (" + volumes + " volumes)" : "") +
                      " \u00b7 " + data.runs.length + (data.runs.length > 1 ? " runs: " : " run: ") + data.runs.join(" \u00b7 ")));
    const filter = el("input", { type: "search", id: "filter", placeholder: "filter by name or class" });
    const count = el("output");
    app.append(el("div", { class: "controls" }, el("label", {}, "find", filter), count));
    const columns = [
      { key: null, title: "" },
      { key: "name", title: "input", get: (it) => it.name },
      { key: "top", title: "top class", get: (it) => (it.top[0] ? it.top[0].label || String(it.top[0].id) : "") },
      { key: "p", title: "p", get: (it) => (it.top[0] ? it.top[0].probability : 0), num: true },
      { key: "second", title: "2nd", get: (it) => (it.top[1] ? it.top[1].probability : 0), num: true },
      { key: "third", title: "3rd", get: (it) => (it.top[2] ? it.top[2].probability : 0), num: true },
      { key: "classes", title: "explained", get: (it) => it.explained, num: true },
      { key: "seconds", title: "seconds", get: (it) => it.seconds, num: true },
    ];
    let sort = { key: "name", dir: 1 };
    const ths = columns.map((c) => {
      const th = el("th", { class: c.key ? "sortable" : "", text: c.title });
      if (c.key) th.addEventListener("click", () => {
        sort = { key: c.key, dir: sort.key === c.key ? -sort.dir : c.num ? -1 : 1 };
        draw();
      });
      return th;
    });
    const tbody = el("tbody");
    app.append(el("main", {}, el("table", { id: "items" }, el("thead", {}, el("tr", {}, ...ths)), tbody)));
    function cls(c) {
      return c ? '<span class="cls">' + escapeHtml(c.label || "class " + c.id) + " <small>" + pct(c.probability) + "</small></span>" : "";
    }
    function row(it) {
      return "<tr><td class=thumb><a href=\"" + escapeHtml(it.href) + "\"><img loading=lazy decoding=async alt=\"\" src=\"" +
             escapeHtml(it.thumb) + "\"></a></td><td><a href=\"" + escapeHtml(it.href) + "\">" + escapeHtml(it.name) + "</a>" +
             (it.kind === "volume" ? " <small>(volume)</small>" : "") + (it.runs > 1 ? " <small>\u00d7" + it.runs + " runs</small>" : "") +
             "</td><td>" + cls(it.top[0]) + "</td><td class=num>" + (it.top[0] ? pct(it.top[0].probability) : "") +
             "</td><td>" + cls(it.top[1]) + "</td><td>" + cls(it.top[2]) + "</td><td>" +
             it.classes.map((c) => escapeHtml(c.label || c.id)).join(", ") +
             (it.explained > it.classes.length ? " <small>+" + (it.explained - it.classes.length) + " more</small>" : "") + "</td><td class=num>" + it.seconds.toFixed(1) + "</td></tr>";
    }
    function draw() {
      const col = columns.find((c) => c.key === sort.key);
      const q = filter.value.trim().toLowerCase();
      const shown = items.filter((it) => !q || it.name.toLowerCase().includes(q) ||
                                         it.top.concat(it.classes).some((c) => (c.label || "").toLowerCase().includes(q)));
      shown.sort((a, b) => {
        const x = col.get(a), y = col.get(b);
        return (x < y ? -1 : x > y ? 1 : 0) * sort.dir || (a.name < b.name ? -1 : 1);
      });
      tbody.innerHTML = shown.map(row).join("");
      ths.forEach((th, i) => {
        if (columns[i].key === sort.key) th.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending");
        else th.removeAttribute("aria-sort");
      });
      count.textContent = shown.length + " of " + items.length;
    }
    filter.addEventListener("input", draw);
    draw();
  }

  // ---- one image ----------------------------------------------------------------------------------
  function imagePage() {
    const runs = data.runs, photo = data.photo, W = photo.width, H = photo.height;
    const panels = [];
    const controls = commonControls(runs, redraw);
    app.append(header(data.name, runs.length > 1 ? runs.length + " runs side by side" : runs[0].label, data.index), controls.bar);
    const main = el("main");
    app.append(main);
    if (!photo.found)
      main.append(el("p", { class: "note", text: "The photo (" + photo.path + ") could not be read: the maps are drawn over grey." }));

    // The photo's lightened grey, as under the figures (heatmap_background), read once it decodes.
    const picture = el("img", { src: photo.src, alt: "input", width: W, height: H, class: "map" });
    let grey = null;
    main.append(el("section", {}, el("h2", { text: "Input" }), el("div", { class: "panel", id: "input-panel" }, picture)));

    // One panel per explained class and run: rows are classes, columns runs.
    const ids = [];
    for (const r of runs) for (const c of r.classes) if (!ids.includes(c.id)) ids.push(c.id);
    const grid = el("div", { class: "grid", style: runs.length > 1 ? "grid-template-columns: repeat(" + runs.length + ", minmax(0, 1fr))"
                                                                  : "grid-template-columns: repeat(auto-fill, minmax(420px, 1fr))" });
    if (runs.length > 1) runs.forEach((r) => grid.append(el("p", { class: "run-label", text: r.label })));
    for (const id of ids) {
      runs.forEach((r, ri) => {
        const c = r.classes.find((x) => x.id === id);
        if (!c) { grid.append(el("div")); return; }
        const canvas = el("canvas", { width: W, height: H, class: "map" });
        const bar = colourBar("WE, bits");
        const panel = el("div", { class: "panel class-panel", "data-class": id, "data-run": ri },
          el("h3", { text: (c.label || "class " + id) + " (" + id + ")" }),
          el("div", { class: "sub", text: "p = " + pct(c.probability) + " \u00b7 max |WE| " + mag(c.map.limit) + " bits" }),
          el("div", { class: "body" }, canvas, bar),
          el("a", { href: c.figure, text: "figure PNG (photo resolution)" }));
        grid.append(panel);
        panels.push({ canvas: canvas, bar: bar, run: r, cls: c, values: decodeMap(c.map), lookup: null });
      });
    }
    main.append(el("section", {}, el("h2", { text: "Evidence per class (red: for, blue: against)" }), classesNote(runs), grid));

    // Hidden layers: each node's channels, strongest first.
    const nodePanels = [];
    runs.forEach((r) => r.nodes.forEach((n) => {
      const canvas = el("canvas", { width: W, height: H, class: "map" });
      const bar = colourBar("activation");
      const select = el("select", { class: "channel" });
      n.channels.forEach((ch, i) => select.append(el("option", { value: i, text: "#" + (i + 1) + ": unit " + ch.unit + " (max " + mag(ch.map.limit) + ")" })));
      const step = (d) => { select.selectedIndex = Math.max(0, Math.min(n.channels.length - 1, select.selectedIndex + d)); redraw(); };
      const panel = el("div", { class: "panel node-panel" },
        el("h3", { text: "node " + n.name + (runs.length > 1 ? " \u00b7 run " + r.label.split(":")[0] : "") }),
        el("div", { class: "sub", text: n.channels.length + " of " + n.units + " channels, strongest first (max |activation difference|)" }),
        el("div", { class: "node-controls" }, el("button", { onclick: () => step(-1), text: "\u2190" }), select,
           el("button", { onclick: () => step(1), text: "\u2192" })),
        el("div", { class: "body" }, canvas, bar));
      select.addEventListener("change", redraw);
      nodePanels.push({ canvas: canvas, bar: bar, run: r, node: n, select: select, cache: {}, lookup: null });
    }));
    if (nodePanels.length)
      main.append(el("section", {}, el("h2", { text: "Hidden layers" }), el("div", { class: "grid", style: "grid-template-columns: repeat(auto-fill, minmax(360px, 1fr))" }, ...nodePanels.map((p) => p.canvas.closest(".panel")))));
    main.append(el("section", {}, el("h2", { text: "Parameters" }), paramsTable(runs)));

    // For each pixel of the photo, the index of the map's pixel under it (−1 outside the crop).
    function lookup(run, shape) {
      const [h, w] = shape, [cx, cy, cw, ch] = run.crop, out = new Int32Array(W * H);
      for (let y = 0; y < H; ++y) {
        const my = Math.floor(((y + 0.5 - cy) * h) / ch);
        for (let x = 0; x < W; ++x) {
          const mx = Math.floor(((x + 0.5 - cx) * w) / cw);
          out[y * W + x] = my >= 0 && my < h && mx >= 0 && mx < w ? my * w + mx : -1;
        }
      }
      return out;
    }
    function drawMap(p, values, shape, limit) {
      if (!p.lookup) p.lookup = lookup(p.run, shape);
      const t = controls.threshold(), op = controls.opacity();
      const ctx = p.canvas.getContext("2d"), img = ctx.createImageData(W, H), px = img.data;
      for (let i = 0; i < W * H; ++i) {
        const j = p.lookup[i];
        paint(px, i * 4, j >= 0 ? values[j] : 0, limit, t * limit, grey[i], op);
      }
      ctx.putImageData(img, 0, 0);
      p.bar.update(limit, t);
    }
    function redraw() {
      if (!grey) return;
      const shared = controls.shared() ? sharedLimits(runs) : null;
      for (const p of panels) drawMap(p, p.values, p.cls.map.shape, shared ? shared[p.cls.id] : p.cls.map.limit);
      for (const p of nodePanels) {
        const i = p.select.selectedIndex, ch = p.node.channels[i];
        if (!ch) continue;
        if (!p.cache[i]) p.cache[i] = decodeMap(ch.map);
        drawMap(p, p.cache[i], ch.map.shape, ch.map.limit);
      }
      document.body.dataset.drawn = String(Number(document.body.dataset.drawn || 0) + 1);
    }
    function start() {
      const c = el("canvas", { width: W, height: H }), ctx = c.getContext("2d");
      ctx.drawImage(picture, 0, 0, W, H);
      const rgb = ctx.getImageData(0, 0, W, H).data;
      grey = new Float32Array(W * H);
      for (let i = 0; i < W * H; ++i)
        grey[i] = Math.round(127.5 + (0.299 * rgb[4 * i] + 0.587 * rgb[4 * i + 1] + 0.114 * rgb[4 * i + 2]) / 2);
      redraw();
      document.body.dataset.ready = "1";
    }
    if (picture.complete && picture.naturalWidth) start();
    else picture.addEventListener("load", start);
  }

  // ---- one volume ---------------------------------------------------------------------------------
  function volumePage() {
    const runs = data.runs, [D, Hh, Ww] = data.grey.shape, grey = bytesOf(data.grey.b64);
    const cursor = { x: Ww >> 1, y: Hh >> 1, z: D >> 1 };
    const controls = commonControls(runs, redraw);
    const scrub = {};
    for (const [axis, n] of [["x", Ww], ["y", Hh], ["z", D]]) {
      const s = slider("slice-" + axis, axis, 0, n - 1, cursor[axis], (v) => v + " / " + (n - 1));
      s.input.addEventListener("input", () => { cursor[axis] = Number(s.input.value); redraw(); });
      scrub[axis] = s;
      controls.bar.append(s.label);
    }
    const size = data.spacing ? ", each " + data.spacing.map((v) => +v.toPrecision(3)).join(" \u00d7 ") : "";
    app.append(header(data.name, "volume " + Ww + " \u00d7 " + Hh + " \u00d7 " + D + " voxels (x \u00d7 y \u00d7 z" + size + ")" +
                      (runs.length > 1 ? " \u00b7 " + runs.length + " runs" : " \u00b7 " + runs[0].label), data.index), controls.bar);
    const main = el("main");
    app.append(main);
    if (!data.grey.found)
      main.append(el("p", { class: "note", text: "The input volume (" + data.grey.path + ") could not be read: the maps are drawn over black." }));

    // The three views: x (sagittal: columns y, rows z), y (coronal: x, z), z (axial: x, y); superior
    // and anterior up, as in the slice pictures (io/volume_slices.h).
    const views = {
      x: { cols: Hh, rows: D, voxel: (r, c) => ((D - 1 - r) * Hh + c) * Ww + cursor.x, at: () => [cursor.y, D - 1 - cursor.z],
           set: (c, r) => { cursor.y = c; cursor.z = D - 1 - r; }, name: "sagittal (x)" },
      y: { cols: Ww, rows: D, voxel: (r, c) => ((D - 1 - r) * Hh + cursor.y) * Ww + c, at: () => [cursor.x, D - 1 - cursor.z],
           set: (c, r) => { cursor.x = c; cursor.z = D - 1 - r; }, name: "coronal (y)" },
      z: { cols: Ww, rows: Hh, voxel: (r, c) => (cursor.z * Hh + (Hh - 1 - r)) * Ww + c, at: () => [cursor.x, Hh - 1 - cursor.y],
           set: (c, r) => { cursor.x = c; cursor.y = Hh - 1 - r; }, name: "axial (z)" },
    };
    // Screen pixels per voxel along each axis: the voxels' own proportions (anisotropic scans stay
    // true to the anatomy), about 220 px for the longest extent.
    const sp = data.spacing || [1, 1, 1], unit = Math.min(sp[0], sp[1], sp[2]);
    const zoom = Math.max(1, Math.min(12, Math.ceil(220 / Math.max(D * sp[2], Hh * sp[1], Ww * sp[0]) * unit)));
    const px = { x: zoom * sp[0] / unit, y: zoom * sp[1] / unit, z: zoom * sp[2] / unit };
    views.x.px = [px.y, px.z];
    views.y.px = [px.x, px.z];
    views.z.px = [px.x, px.y];
    // A click on a view moves the cursor there: the other two views and the scrubbers follow.
    function moveCursorOnClick(cv, v) {
      cv.addEventListener("click", (ev) => {
        const b = cv.getBoundingClientRect();
        const col = Math.floor(((ev.clientX - b.left) / b.width) * v.cols), row = Math.floor(((ev.clientY - b.top) / b.height) * v.rows);
        v.set(Math.max(0, Math.min(v.cols - 1, col)), Math.max(0, Math.min(v.rows - 1, row)));
        for (const a of ["x", "y", "z"]) { scrub[a].input.value = cursor[a]; scrub[a].input.dispatchEvent(new Event("input")); }
      });
    }
    // The three views of one map, in the voxels' proportions, each moving the cursor on a click.
    function threeViews(cls) {
      const canvases = {};
      const figs = Object.entries(views).map(([axis, v]) => {
        const cv = el("canvas", { width: Math.round(v.cols * v.px[0]), height: Math.round(v.rows * v.px[1]), class: "voxels " + cls + "view-" + axis });
        moveCursorOnClick(cv, v);
        canvases[axis] = cv;
        return el("figure", {}, cv, el("figcaption", { text: v.name }));
      });
      return { canvases: canvases, figs: figs };
    }
    const panels = [];
    const grid = el("div", { class: "grid", style: "grid-template-columns: repeat(" + runs.length + ", minmax(0, 1fr))" });
    if (runs.length > 1) runs.forEach((r) => grid.append(el("p", { class: "run-label", text: r.label })));
    const ids = [];
    for (const r of runs) for (const c of r.classes) if (!ids.includes(c.id)) ids.push(c.id);
    for (const id of ids) runs.forEach((r, ri) => {
      const c = r.classes.find((x) => x.id === id);
      if (!c) { grid.append(el("div")); return; }
      const { canvases, figs } = threeViews("");
      const bar = colourBar("WE, bits");
      grid.append(el("div", { class: "panel class-panel", "data-class": id, "data-run": ri },
        el("h3", { text: (c.label || "class " + id) + " (" + id + ")" }),
        el("div", { class: "sub", text: "p = " + pct(c.probability) + " \u00b7 max |WE| " + mag(c.map.limit) + " bits" }),
        el("div", { class: "body" }, el("div", { class: "views" }, ...figs), bar)));
      panels.push({ canvases: canvases, bar: bar, cls: c, values: decodeMap(c.map) });
    });
    main.append(el("section", {}, el("h2", { text: "Evidence per class (red: for, blue: against)" }), classesNote(runs), grid));

    // Hidden layers: each node's strongest channels in the same three linked views.
    const nodePanels = [], nodeSection = el("section", {}, el("h2", { text: "Hidden layers" }));
    runs.forEach((r) => (r.nodes || []).forEach((n) => {
      const select = el("select", { class: "channel" });
      n.channels.forEach((ch, i) => select.append(el("option", { value: i, text: "#" + (i + 1) + ": unit " + ch.unit + " (max " + mag(ch.map.limit) + ")" })));
      const step = (d) => { select.selectedIndex = Math.max(0, Math.min(n.channels.length - 1, select.selectedIndex + d)); redraw(); };
      const { canvases, figs } = threeViews("node-view ");
      const bar = colourBar("activation");
      select.addEventListener("change", redraw);
      nodeSection.append(el("div", { class: "panel node-panel" },
        el("h3", { text: "node " + n.name + (runs.length > 1 ? " \u00b7 run " + r.label.split(":")[0] : "") }),
        el("div", { class: "sub", text: n.channels.length + " of " + n.units + " channels, strongest first (max |activation difference|)" }),
        el("div", { class: "node-controls" }, el("button", { onclick: () => step(-1), text: "\u2190" }), select,
           el("button", { onclick: () => step(1), text: "\u2192" })),
        el("div", { class: "body" }, el("div", { class: "views" }, ...figs), bar)));
      nodePanels.push({ canvases: canvases, bar: bar, node: n, select: select, cache: {} });
    }));
    if (nodePanels.length) main.append(nodeSection);
    main.append(el("section", {}, el("h2", { text: "Parameters" }), paramsTable(runs)));

    function drawView(cv, v, values, limit) {
      const t = controls.threshold(), op = controls.opacity();
      const small = document.createElement("canvas");
      small.width = v.cols;
      small.height = v.rows;
      const sctx = small.getContext("2d"), img = sctx.createImageData(v.cols, v.rows), px = img.data;
      for (let r = 0; r < v.rows; ++r)
        for (let c = 0; c < v.cols; ++c) {
          const i = v.voxel(r, c);
          paint(px, (r * v.cols + c) * 4, values[i], limit, t * limit, grey[i], op);
        }
      sctx.putImageData(img, 0, 0);
      const ctx = cv.getContext("2d");
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(small, 0, 0, cv.width, cv.height);
      const [cx, cy] = v.at();  // the crosshair through the other two slices
      ctx.fillStyle = "rgba(40, 220, 120, 0.8)";
      const pw = cv.width / v.cols, ph = cv.height / v.rows;
      ctx.fillRect(Math.floor((cx + 0.5) * pw), 0, 1, cv.height);
      ctx.fillRect(0, Math.floor((cy + 0.5) * ph), cv.width, 1);
    }
    function redraw() {
      const shared = controls.shared() ? sharedLimits(runs) : null;
      for (const p of panels) {
        const limit = shared ? shared[p.cls.id] : p.cls.map.limit;
        for (const [axis, v] of Object.entries(views)) drawView(p.canvases[axis], v, p.values, limit);
        p.bar.update(limit, controls.threshold());
      }
      for (const p of nodePanels) {
        const i = p.select.selectedIndex, ch = p.node.channels[i];
        if (!ch) continue;
        if (!p.cache[i]) p.cache[i] = decodeMap(ch.map);
        for (const [axis, v] of Object.entries(views)) drawView(p.canvases[axis], v, p.cache[i], ch.map.limit);
        p.bar.update(ch.map.limit, controls.threshold());
      }
      document.body.dataset.drawn = String(Number(document.body.dataset.drawn || 0) + 1);
    }
    redraw();
    document.body.dataset.ready = "1";
  }

  if (data.kind === "index") {
    indexPage();
    document.body.dataset.ready = "1";
  } else if (data.kind === "image") imagePage();
  else volumePage();
})();
