/* runnel console: the pages over runneld's /api (README, "Web console"). Hand-written, no
 * framework: a hash router, a DOM helper that never parses HTML (every value goes in as
 * text), small SVG charts, and timers that poll only while their page is shown. */
"use strict";

const main = document.getElementById("main");
let timers = [];   /* the shown page's intervals, cleared when the page changes */
let overview = null;

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined) continue;
    el.appendChild(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

async function api(path, opts) {
  if (opts && opts.method === "POST") opts.headers = {"X-Runnel-Console": "1"};
  const r = await fetch(path, opts);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

function every(ms, fn) {
  fn();
  timers.push(setInterval(fn, ms));
}

function fmtBytes(n) {
  if (n === undefined || n === null) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

function fmtTime(ms) {
  return ms > 0 ? new Date(ms).toISOString().replace("T", " ").replace("Z", "") : "";
}

function fmtDuration(s) {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600);
  const m = Math.floor(s % 3600 / 60);
  return (d ? d + "d " : "") + (d || hh ? hh + "h " : "") + m + "m " + (s % 60) + "s";
}

function card(k, v, id) {
  return h("div", {class: "card"}, h("div", {class: "k"}, k), h("div", {class: "v", id}, v));
}

function table(heads, rows, id) {
  return h("table", {id},
    h("thead", {}, h("tr", {}, heads.map(c => h("th", {class: c.endsWith("#") ? "num" : null},
                                                  c.replace(/#$/, ""))))),
    h("tbody", {}, rows));
}

function num(v) { return h("td", {class: "num"}, v === undefined ? "" : v); }

function status(st) { return h("span", {class: "status st-" + st}, st); }

function query() {
  const i = location.hash.indexOf("?");
  return new URLSearchParams(i < 0 ? "" : location.hash.slice(i + 1));
}

function link(hash, text) { return h("a", {href: hash}, text); }

function fail(e) {
  main.appendChild(h("p", {class: "err"}, "error: " + e.message));
}

/* ---- charts: a polyline per series over a fixed number of points ---- */

function chart(title, w, hgt, names, slots) {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("width", w);
  svg.setAttribute("height", hgt);
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  const axis = document.createElementNS(NS, "line");
  axis.setAttribute("class", "axis");
  axis.setAttribute("x1", 0); axis.setAttribute("x2", w);
  axis.setAttribute("y1", hgt - 1); axis.setAttribute("y2", hgt - 1);
  svg.appendChild(axis);
  const lines = names.map((_, i) => {
    const p = document.createElementNS(NS, "polyline");
    p.setAttribute("class", i ? "line2" : "line");
    svg.appendChild(p);
    return p;
  });
  const label = document.createElementNS(NS, "text");
  label.setAttribute("x", 4); label.setAttribute("y", 11);
  svg.appendChild(label);
  const legend = h("div", {class: "t"}, title);
  const box = h("div", {class: "chart"}, legend, svg);
  box.draw = (series) => {
    const max = Math.max(1, ...series.flat().map(p => p[1]));
    const n = Math.max(2, slots, ...series.map(s => s.length));
    series.forEach((s, i) => {
      lines[i].setAttribute("points", s.map((p, k) =>
        `${(k * (w - 2) / (n - 1)).toFixed(1)},${(hgt - 2 - p[1] * (hgt - 14) / max).toFixed(1)}`)
        .join(" "));
    });
    label.textContent = "max " + (max < 10 ? max.toFixed(2) : Math.round(max)) +
      (names.length > 1 ? "  (" + names.join(" / ") + ")" : "");
  };
  return box;
}

/* ---- pages ---- */

const pages = {};

pages.overview = () => {
  main.append(h("h1", {}, "Overview"));
  const cards = h("div", {class: "cards", id: "cards"});
  const inChart = chart("messages in / s", 360, 90, ["in"], 45);
  const bytesChart = chart("bytes / s", 360, 90, ["in", "out"], 45);
  const nodes = h("div");
  main.append(cards, h("h2", {}, "Traffic"), h("div", {class: "charts"}, inChart, bytesChart),
              h("h2", {}, "Nodes"), nodes);
  let prev = null;
  const msgs = [], bin = [], bout = [];
  every(2000, async () => {
    let o;
    try { o = await api("/api/overview"); } catch (e) { return fail(e); }
    overview = o;
    if (prev) {
      const dt = Math.max(0.001, (o.time_ms - prev.time_ms) / 1000);
      msgs.push([o.time_ms, (o.totals.messages_in - prev.totals.messages_in) / dt]);
      bin.push([o.time_ms, (o.totals.bytes_in - prev.totals.bytes_in) / dt]);
      bout.push([o.time_ms, (o.totals.bytes_out - prev.totals.bytes_out) / dt]);
      for (const a of [msgs, bin, bout]) while (a.length > 90) a.shift();
      inChart.draw([msgs]);
      bytesChart.draw([bin, bout]);
    }
    prev = o;
    cards.replaceChildren(
      card("version", o.version), card("node", o.node_id), card("controller", o.controller_id),
      card("uptime", fmtDuration(o.uptime_s)), card("topics", o.topics, "ov-topics"),
      card("partitions", o.partitions), card("under-replicated", o.under_replicated_partitions),
      card("offline", o.offline_partitions), card("on disk", fmtBytes(o.bytes_on_disk)),
      card("messages in", o.totals.messages_in, "ov-msgs"),
      card("msg/s", msgs.length ? msgs[msgs.length - 1][1].toFixed(1) : "-", "ov-rate"));
    nodes.replaceChildren(table(["id", "host", "port#", ""], o.nodes.map(n =>
      h("tr", {}, h("td", {}, n.id), h("td", {}, n.host), num(n.port),
        h("td", {}, n.self ? "this node" : ""))), "nodes"));
  });
};

pages.topics = () => {
  main.append(h("h1", {}, "Topics"));
  const box = h("div");
  main.append(box, writeTopicForm());
  every(5000, async () => {
    let r;
    try { r = await api("/api/topics"); } catch (e) { return fail(e); }
    box.replaceChildren(table(
      ["name", "partitions#", "replication#", "under-replicated#", "messages#", "size#",
       "produced#", ""],
      r.topics.map(t => h("tr", {},
        h("td", {}, link("#/topic?name=" + encodeURIComponent(t.name), t.name),
          t.internal ? h("span", {class: "muted"}, " (internal)") : null),
        num(t.partitions), num(t.replication_factor), num(t.under_replicated),
        num(t.messages), num(fmtBytes(t.size)), num(t.messages_in),
        h("td", {}, link("#/messages?topic=" + encodeURIComponent(t.name) +
                         "&partition=0&from=latest", "browse")))), "topics"));
  });
};

function writeTopicForm() {
  if (!overview || !overview.write_enabled) return null;
  const name = h("input", {placeholder: "new topic", id: "new-topic"});
  const parts = h("input", {type: "number", value: "1", min: "1", id: "new-parts"});
  const out = h("span");
  return h("form", {onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("/api/topics/create?name=" + encodeURIComponent(name.value) +
                          "&partitions=" + parts.value, {method: "POST"});
      out.textContent = r.ok ? "created" : r.error + " " + (r.message || "");
    } catch (e) { out.textContent = e.message; }
  }}, name, parts, h("button", {}, "Create topic"), out);
}

pages.topic = async () => {
  const name = query().get("name") || "";
  main.append(h("h1", {}, "Topic " + name));
  let t;
  try { t = await api("/api/topic?name=" + encodeURIComponent(name)); } catch (e) { return fail(e); }
  const q = encodeURIComponent(name);
  main.append(h("h2", {}, "Partitions"), table(
    ["partition#", "leader#", "replicas", "ISR", "log start#", "log end#", "high watermark#",
     "size#", "segments#", ""],
    t.partitions.map(p => h("tr", {}, num(p.partition), num(p.leader),
      h("td", {}, p.replicas.join(",")), h("td", {}, p.isr.join(",")), num(p.log_start),
      num(p.log_end), num(p.high_watermark), num(fmtBytes(p.size)), num(p.segments),
      h("td", {}, link(`#/messages?topic=${q}&partition=${p.partition}&from=latest`, "messages"),
        " ", link(`#/segments?topic=${q}&partition=${p.partition}`, "segments")))), "partitions"));
  main.append(h("h2", {}, "Configs"), table(["name", "value", "source"],
    t.configs.map(c => h("tr", {}, h("td", {}, c.name), h("td", {}, c.value),
                          h("td", {class: "muted"}, c.source))), "configs"));
};

function renderValue(text, hex, fmt) {
  if (fmt === "hex" || text === null || text === undefined) return hex === undefined ? "null" : hex;
  if (fmt === "json") {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }
  return text;
}

pages.messages = async () => {
  const q = query();
  main.append(h("h1", {}, "Messages"));
  let topics = [];
  try { topics = (await api("/api/topics")).topics; } catch (e) { return fail(e); }
  const topic = h("select", {id: "m-topic"}, topics.map(t =>
    h("option", {value: t.name, selected: t.name === q.get("topic")}, t.name)));
  const part = h("input", {type: "number", min: "0", value: q.get("partition") || "0",
                           id: "m-partition"});
  const mode = h("select", {id: "m-from"}, ["latest", "earliest", "offset", "timestamp"].map(m =>
    h("option", {value: m, selected: m === (q.get("from") || "latest")}, m)));
  const at = h("input", {placeholder: "offset or ms", value: q.get("at") || "", id: "m-at"});
  const fmt = h("select", {id: "m-format"}, ["text", "json", "hex"].map(f =>
    h("option", {value: f, selected: f === (q.get("format") || "text")}, f)));
  const follow = h("input", {type: "checkbox", id: "m-follow"});
  const info = h("span", {class: "muted", id: "m-info"});
  let next = null, seq = 0;
  const produce = overview && overview.write_enabled ? h("input", {placeholder: "test value",
                                                                    id: "m-value"}) : null;
  const form = h("form", {onsubmit: (ev) => { ev.preventDefault(); load(false); }},
    "topic", topic, "partition", part, "from", mode, at, "show", fmt,
    h("button", {id: "m-load"}, "Load"), h("label", {}, follow, " follow"), info);
  main.append(form);
  if (produce) {
    main.append(h("form", {onsubmit: async (ev) => {
      ev.preventDefault();
      const r = await api(`/api/produce?topic=${encodeURIComponent(topic.value)}&partition=` +
                          part.value, {method: "POST", body: produce.value});
      info.textContent = r.ok ? "produced at offset " + r.offset : r.error;
    }}, produce, h("button", {}, "Produce test message")));
  }
  const tbl = table(["offset#", "timestamp", "key", "value", "headers", "batch"], [], "m-table");
  const body = tbl.querySelector("tbody");
  main.append(tbl);

  function row(r) {
    const t = encodeURIComponent(topic.value);
    const b = r.batch;
    return h("tr", {}, num(r.offset), h("td", {}, fmtTime(r.timestamp)),
      h("td", {class: "val"}, renderValue(r.key, r.key_hex, fmt.value === "json" ? "text" : fmt.value)),
      h("td", {class: "val"}, renderValue(r.value, r.value_hex, fmt.value),
        r.value_truncated ? h("span", {class: "muted"}, ` … (${r.value_size} bytes)`) : null),
      h("td", {class: "val"}, r.headers.map(x => `${x.key}=${x.value === null ? x.value_hex : x.value}`)
        .join("\n")),
      h("td", {class: "muted"}, `${b.compression}, ${b.timestamp_type}` +
        (b.transactional ? ", txn" : "") + (b.control ? ", control" : "") + " ",
        link(`#/segments?topic=${t}&partition=${part.value}&offset=${r.offset}`, "hex")));
  }

  let hw = null;
  async function load(more) {
    const my = ++seq;
    let path = `/api/messages?topic=${encodeURIComponent(topic.value)}&partition=${part.value}`;
    /* Following a partition faster than a page a second: skip to its newest records. */
    const skip = more && hw !== null && hw - next > 500;
    if (skip) path += "&from=latest";
    else if (more) path += "&offset=" + next;
    else if (mode.value === "latest") path += "&from=latest";
    else if (mode.value === "offset") path += "&offset=" + (parseInt(at.value) || 0);
    else if (mode.value === "timestamp") path += "&timestamp=" + (parseInt(at.value) || 0);
    let r;
    try { r = await api(path); } catch (e) { info.textContent = e.message; return; }
    if (my !== seq) return;
    if (!more) body.replaceChildren();
    if (skip && r.records.length && r.records[0].offset > next)
      body.appendChild(h("tr", {class: "muted"}, h("td", {colspan: "6"},
        `… ${r.records[0].offset - next} records skipped to follow the newest`)));
    hw = r.high_watermark;
    for (const rec of r.records) body.appendChild(row(rec));
    while (body.children.length > 500) body.removeChild(body.firstChild);
    next = r.next_offset;
    info.textContent = `log ${r.log_start}..${r.high_watermark}, showing ${body.children.length}`;
  }
  fmt.addEventListener("change", () => load(false));
  timers.push(setInterval(() => { if (follow.checked && next !== null) load(true); }, 1000));
  if (topic.value) load(false);
};

pages.groups = () => {
  main.append(h("h1", {}, "Consumer groups"));
  const box = h("div");
  main.append(box);
  every(2000, async () => {
    let r;
    try { r = await api("/api/groups"); } catch (e) { return fail(e); }
    box.replaceChildren(table(["group", "state", "status", "members#", "partitions#", "lag#"],
      r.groups.map(g => h("tr", {},
        h("td", {}, link("#/group?id=" + encodeURIComponent(g.id), g.id)),
        h("td", {}, g.state), h("td", {}, status(g.status)), num(g.members), num(g.partitions),
        num(g.lag))), "groups"),
      r.groups.length ? null : h("p", {class: "muted"}, "no groups on this coordinator"));
  });
};

pages.group = () => {
  const id = query().get("id") || "";
  main.append(h("h1", {}, "Group " + id));
  const head = h("div", {class: "cards"});
  const lagChart = chart("total lag", 480, 110, ["lag"], 60);
  const members = h("div"), offsets = h("div");
  main.append(head, h("h2", {}, "Lag"), lagChart, h("h2", {}, "Members"), members,
              h("h2", {}, "Committed offsets"), offsets);
  every(2000, async () => {
    let g;
    try { g = await api("/api/group?id=" + encodeURIComponent(id)); } catch (e) { return fail(e); }
    head.replaceChildren(card("state", g.state), card("status", status(g.status)),
      card("total lag", g.lag, "g-lag"), card("generation", g.generation),
      card("protocol", g.protocol || "-"));
    lagChart.draw([g.history.length ? g.history : [[0, g.lag]]]);
    members.replaceChildren(table(["member", "client", "host", "assignment"],
      g.members.map(m => h("tr", {}, h("td", {}, m.member_id), h("td", {}, m.client_id),
        h("td", {}, m.client_host), h("td", {}, Array.isArray(m.assignment)
          ? m.assignment.map(a => `${a.topic}: ${a.partitions.join(",")}`).join("; ")
          : m.assignment)))));
    offsets.replaceChildren(table(["topic", "partition#", "committed#", "high watermark#",
                                   "lag#", "status", "committed at"],
      g.offsets.map(o => h("tr", {}, h("td", {}, o.topic), num(o.partition), num(o.committed),
        num(o.high_watermark), num(o.lag), h("td", {}, status(o.status)),
        h("td", {}, fmtTime(o.commit_timestamp)))), "offsets"));
  });
};

pages.segments = async () => {
  const q = query();
  main.append(h("h1", {}, "Segments"));
  const topic = q.get("topic"), part = q.get("partition") || "0";
  if (!topic) {
    main.append(h("p", {class: "muted"}, "Pick a partition from a topic's page."));
    return;
  }
  const t = encodeURIComponent(topic);
  let s;
  try { s = await api(`/api/segments?topic=${t}&partition=${part}`); } catch (e) { return fail(e); }
  main.append(h("p", {}, `${s.topic}-${s.partition}: ${s.dir}, offsets ${s.log_start}..` +
                         `${s.log_end}, ${fmtBytes(s.size)} in ${s.segment_count} segment(s)`));
  main.append(table(["base offset#", "next offset#", "size#", "max timestamp", "files", ""],
    s.segments.map(g => h("tr", {}, num(g.base_offset), num(g.next_offset), num(g.size),
      h("td", {}, fmtTime(g.max_timestamp)),
      h("td", {}, g.files.map(f => `${f.name} (${fmtBytes(f.size)})`).join("\n")),
      h("td", {}, g.active ? "active" : ""))), "segments"));
  const off = h("input", {type: "number", min: "0", value: q.get("offset") || s.log_start,
                          id: "hex-offset"});
  const pre = h("pre", {id: "hex"});
  const title = h("p", {class: "muted", id: "hex-title"});
  async function show() {
    try {
      const b = await api(`/api/batch?topic=${t}&partition=${part}&offset=${off.value}`);
      title.textContent = `batch ${b.batch.base_offset}..${b.batch.last_offset} at position ` +
                          `${b.position} of ${b.file}, ${b.size} bytes`;
      pre.textContent = b.hex;
    } catch (e) { title.textContent = e.message; pre.textContent = ""; }
  }
  main.append(h("h2", {}, "Batch hex view"),
    h("form", {onsubmit: (ev) => { ev.preventDefault(); show(); }}, "offset", off,
      h("button", {}, "Show")), title, pre);
  if (s.log_end > s.log_start) show();
};

pages.cluster = () => {
  main.append(h("h1", {}, "Cluster"));
  const box = h("div");
  main.append(box);
  every(3000, async () => {
    let c;
    try { c = await api("/api/cluster"); } catch (e) { return fail(e); }
    box.replaceChildren(
      h("div", {class: "cards"}, card("quorum leader", c.quorum.leader),
        card("epoch", c.quorum.epoch), card("metadata offset", c.quorum.applied_offset),
        card("under-replicated", c.under_replicated_partitions)),
      h("h2", {}, "Voters"), table(["id#", "host", "port#", ""], c.quorum.voters.map(v =>
        h("tr", {}, num(v.id), h("td", {}, v.host), num(v.port),
          h("td", {}, v.leader ? "leader" : "")))),
      h("h2", {}, "Brokers"), table(["id#", "host", "port#", "state"], c.brokers.map(b =>
        h("tr", {}, num(b.id), h("td", {}, b.host), num(b.port),
          h("td", {}, b.fenced ? "fenced" : b.in_controlled_shutdown ? "shutting down" : "active")))),
      h("h2", {}, "Followers of partitions this node leads"),
      c.replication.length ? table(["partition", "ISR", "follower#", "log end#", "lag#",
                                    "last fetch"],
        c.replication.flatMap(p => p.followers.map(f => h("tr", {},
          h("td", {}, `${p.topic}-${p.partition}`), h("td", {}, p.isr.join(",")), num(f.id),
          num(f.log_end), num(f.lag),
          h("td", {}, f.last_fetch_ago_ms < 0 ? "never" : f.last_fetch_ago_ms + " ms ago")))))
        : h("p", {class: "muted"}, "no replicated partitions led here"));
  });
};

/* ---- router ---- */

async function route() {
  for (const t of timers) clearInterval(t);
  timers = [];
  const name = (location.hash.replace(/^#\//, "").split("?")[0]) || "overview";
  const page = pages[name] || pages.overview;
  const section = {topic: "topics", group: "groups"}[name] || name;
  for (const a of document.querySelectorAll("#nav a"))
    a.classList.toggle("active", a.dataset.page === section);
  main.replaceChildren();
  if (!overview) {
    try { overview = await api("/api/overview"); } catch (e) { /* shown by the page */ }
  }
  if (overview) document.getElementById("who").textContent =
    `node ${overview.node_id} · ${overview.cluster_id} · ` +
    (overview.write_enabled ? "writes enabled" : "read-only");
  page();
}

window.addEventListener("hashchange", route);
route();
