// tracegate's commissioning page. Plain JavaScript, no build step, nothing fetched from
// elsewhere. Every string a device or the network sent is put in the page as text, never as
// HTML.
"use strict";

const TEXT = {
  "en": {
    devices: "Devices", live_reads: "Live reads", device: "Device", all: "all", pause: "Pause",
    resume: "Resume", clear: "Clear", time: "Time", read: "Read", meaning: "Meaning",
    verdict: "Verdict", gateway: "Gateway", rfid_tags: "RFID tags", test_print: "Test print",
    printer: "Printer", template: "Template", variables: "Variables (name=value, one per line)",
    preview: "Preview", print: "Print", latest_events: "Latest events", configuration: "Configuration",
    reload: "Reload the configuration", password: "Password", sign_in: "Sign in", sign_out: "Sign out",
    signed_in: "signed in", local_user: "local user (no password set)",
    footer: "tracegate commissioning page: what this gateway sees, live.",
    recorded: "recorded", in_case: "in the open case", refused: "REFUSED", flagged: "flagged",
    case_full: "refused: case full", duplicate: "repeat, dropped",
    up: "up", down: "down", connecting: "connecting", stopped: "stopped",
    since: "since", why: "why", reads_total: "reads", rejects: "refused", last_read: "last read",
    last_reject: "last refusal", on: "on", off: "off", toggle: "Toggle", pulse: "Pulse 1 s",
    window_open: "Open read window", window_close: "Close read window",
    ready: "ready", faults: "faults", inputs: "inputs", outputs: "outputs",
    missed: "not shown (too fast to show every read)", online: "online", offline: "offline",
    clock_ok: "clock trusted", clock_held: "clock not trusted: reads held",
    undelivered: "undelivered", oldest: "oldest", capacity: "capacity left", days: "days",
    disk_full: "DISK FULL", set_aside: "set aside", lost: "lost", delivered: "delivered",
    uplink: "uplink", node: "node", last_ack: "last ack", offline_since: "offline since",
    credentials: "credential problem", public_key: "public key", uptime: "uptime",
    outbox: "outbox", clock: "clock", version: "version", integrity: "integrity",
    epc: "EPC", antenna: "antenna", zone: "zone", peak_rssi: "peak RSSI", movement: "movement",
    seen: "last seen", no_tags: "No tags seen since this page opened.",
    no_reads: "Waiting for reads…", event: "event", not_delivered: "not delivered",
    undecided: "Print jobs waiting for a decision (the label may or may not have printed):",
    reprint: "Reprint", void: "Void", printed_intact: "It printed intact", done: "done", failed: "failed",
    sign_in_needed: "Sign in to act.", connection_lost: "Connection to the gateway lost; reconnecting…",
    refresh: "Refresh", held: "reads held",
  },
  "zh-CN": {
    devices: "设备", live_reads: "实时读取", device: "设备", all: "全部", pause: "暂停",
    resume: "继续", clear: "清空", time: "时间", read: "读取内容", meaning: "解码含义",
    verdict: "结果", gateway: "网关", rfid_tags: "RFID 标签", test_print: "测试打印",
    printer: "打印机", template: "模板", variables: "变量（名称=值，每行一个）",
    preview: "预览", print: "打印", latest_events: "最新事件", configuration: "配置",
    reload: "重新加载配置", password: "密码", sign_in: "登录", sign_out: "退出",
    signed_in: "已登录", local_user: "本机用户（未设密码）",
    footer: "tracegate 调试页面：实时显示本网关看到的一切。",
    recorded: "已记录", in_case: "已装入当前箱", refused: "已拒绝", flagged: "已标记",
    case_full: "已拒绝：箱已满", duplicate: "重复读取，已丢弃",
    up: "在线", down: "离线", connecting: "连接中", stopped: "已停止",
    since: "自", why: "原因", reads_total: "读取", rejects: "拒绝", last_read: "最近读取",
    last_reject: "最近拒绝", on: "开", off: "关", toggle: "切换", pulse: "脉冲 1 秒",
    window_open: "打开读取窗口", window_close: "关闭读取窗口",
    ready: "就绪", faults: "故障", inputs: "输入", outputs: "输出",
    missed: "条未显示（读取过快）", online: "已连接", offline: "未连接",
    clock_ok: "时钟可信", clock_held: "时钟不可信：读取暂存",
    undelivered: "未送达", oldest: "最早", capacity: "剩余容量", days: "天",
    disk_full: "磁盘已满", set_aside: "已搁置", lost: "丢失", delivered: "已送达",
    uplink: "上行", node: "节点", last_ack: "最近确认", offline_since: "离线自",
    credentials: "凭据问题", public_key: "公钥", uptime: "运行时间",
    outbox: "发件箱", clock: "时钟", version: "版本", integrity: "完整性",
    epc: "EPC", antenna: "天线", zone: "区域", peak_rssi: "最强信号", movement: "动作",
    seen: "最近看到", no_tags: "本页打开后尚未看到标签。",
    no_reads: "等待读取……", event: "事件", not_delivered: "未送达",
    undecided: "等待决定的打印任务（标签可能已打印，也可能没有）：",
    reprint: "重新打印", void: "作废", printed_intact: "已完好打印", done: "完成", failed: "失败",
    sign_in_needed: "请先登录再操作。", connection_lost: "与网关的连接中断，正在重连……",
    refresh: "刷新", held: "条读取暂存",
  },
};

const state = {
  lang: localStorage.getItem("tracegate.lang") || document.documentElement.lang || "en",
  csrf: null, passwordRequired: false, paused: false, filter: "", reads: [], missed: 0,
  status: null, printFormFilled: false,
};
const MAX_ROWS = 200;

function t(key) { return (TEXT[state.lang] || TEXT.en)[key] || TEXT.en[key] || key; }

// Builds an element; strings become text nodes (never HTML).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const $ = (id) => document.getElementById(id);

function translate() {
  document.documentElement.lang = state.lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  $("lang").textContent = state.lang === "en" ? "中文" : "English";
  $("pause").textContent = state.paused ? t("resume") : t("pause");
  renderAll();
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": state.csrf || "" },
    body: JSON.stringify(body),
  };
  const res = await fetch(path, init);
  if (res.status === 401) showSignIn(true);
  return res;
}

async function act(name, args, out) {
  if (state.passwordRequired && !state.csrf) { showBanner(t("sign_in_needed")); return null; }
  const res = await api("/api/command/" + name, args);
  let reply;
  try { reply = await res.json(); } catch { reply = { ok: false, error: res.statusText }; }
  const text = reply.ok ? t("done") + (reply.result !== undefined ? ": " + JSON.stringify(reply.result) : "")
                        : t("failed") + ": " + (reply.error || res.statusText);
  if (out) { out.textContent = text; out.className = "result " + (reply.ok ? "good" : "bad"); }
  else if (!reply.ok) showBanner(text);
  return reply;
}

function showBanner(text) {
  const b = $("banner");
  b.textContent = text || "";
  b.hidden = !text;
}

function showSignIn(show) {
  $("sign-in").hidden = !show;
  if (show) $("password").focus();
}

// ---- session ----
async function loadSession() {
  const res = await fetch("/api/session");
  const s = await res.json();
  state.passwordRequired = s.password_required;
  state.csrf = s.csrf;
  $("gateway").textContent = s.gateway;
  $("version").textContent = "v" + s.version;
  document.title = "tracegate · " + s.gateway;
  $("whoami").textContent = s.signed_in ? (s.password_required ? t("signed_in") : t("local_user")) : "";
  $("sign-out").hidden = !(s.signed_in && s.password_required);
  showSignIn(s.password_required && !s.signed_in);
  return s;
}

$("sign-in").addEventListener("submit", async (e) => {
  e.preventDefault();
  const res = await fetch("/api/sign-in", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ password: $("password").value }),
  });
  const reply = await res.json().catch(() => ({}));
  if (res.ok) {
    $("password").value = "";
    $("sign-in-error").textContent = "";
    await loadSession();
    connect();
  } else {
    $("sign-in-error").textContent = reply.error || res.statusText;
  }
});
$("sign-out").addEventListener("click", async () => {
  await api("/api/sign-out", {});
  state.csrf = null;
  await loadSession();
});
$("lang").addEventListener("click", () => {
  state.lang = state.lang === "en" ? "zh-CN" : "en";
  localStorage.setItem("tracegate.lang", state.lang);
  translate();
});

// ---- live stream ----
let source = null;
function connect() {
  if (source) source.close();
  source = new EventSource("/api/live");
  source.addEventListener("status", (e) => {
    showBanner("");
    state.status = JSON.parse(e.data);
    renderStatus();
  });
  source.addEventListener("reads", (e) => {
    const batch = JSON.parse(e.data);
    state.missed += batch.missed;
    if (state.paused) return;
    for (const r of batch.reads) state.reads.unshift(r);
    state.reads.length = Math.min(state.reads.length, MAX_ROWS);
    renderReads();
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      showBanner(t("connection_lost"));
      setTimeout(async () => { await loadSession(); connect(); }, 2000);
    }
  };
}

$("pause").addEventListener("click", () => {
  state.paused = !state.paused;
  $("pause").textContent = state.paused ? t("resume") : t("pause");
});
$("clear").addEventListener("click", () => { state.reads = []; state.missed = 0; renderReads(); });
$("read-filter").addEventListener("change", (e) => { state.filter = e.target.value; renderReads(); });

// ---- rendering ----
function renderAll() { renderStatus(); renderReads(); }

function meaning(d) {
  if (!d) return "";
  const parts = [];
  if (d.ais) parts.push(d.ais.map((a) => "(" + a.ai + ") " + a.title + " " + a.value).join(" · "));
  if (d.epc) parts.push(d.epc.pure_uri);
  if (d.national) parts.push(d.national.system + " " + (d.national.code || ""));
  if (!parts.length && d.kind) parts.push(d.kind);
  return parts.join(" — ");
}

function renderReads() {
  const body = $("reads");
  const rows = state.reads.filter((r) => !state.filter || r.device === state.filter);
  body.replaceChildren(...(rows.length ? rows.map((r) => {
    const bad = r.outcome === "refused" || r.outcome === "case_full" || r.outcome === "flagged";
    return h("tr", { class: bad ? "bad-row" : "", "data-outcome": r.outcome },
      h("td", { class: "nowrap" }, new Date(r.at).toLocaleTimeString(state.lang)),
      h("td", {}, r.device),
      h("td", { class: "code" }, r.payload),
      h("td", {}, meaning(r.decoded)),
      h("td", {}, h("strong", {}, t(r.outcome)), r.reason ? h("div", { class: "reason" }, r.reason) : null,
        r.events.length ? h("div", { class: "muted code" }, r.events[r.events.length - 1]) : null));
  }) : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, t("no_reads")))]));
  $("reads-count").textContent = state.reads.length ? "(" + state.reads.length + ")" : "";
  $("missed").textContent = state.missed ? state.missed + " " + t("missed") : "";
}

function ago(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(state.lang);
}

function kv(label, value, cls) {
  return h("div", { class: "kv " + (cls || "") }, h("span", { class: "k" }, label), h("span", { class: "v" }, value));
}

function renderStatus() {
  const s = state.status;
  if (!s || s.error) return;
  const q = s.queue, b = s.broker;
  const clockOk = !s.clock || s.clock.synced;
  $("health").replaceChildren(...[
    h("span", { class: "pill " + (s.online ? "good" : "bad") }, t(s.online ? "online" : "offline")),
    h("span", { class: "pill " + (clockOk ? "good" : "bad") }, t(clockOk ? "clock_ok" : "clock_held")),
    h("span", { class: "pill " + (q.undelivered > 1000 ? "warn" : ""), id: "undelivered" }, t("undelivered") + " " + q.undelivered),
    q.disk_full ? h("span", { class: "pill bad" }, t("disk_full")) : null,
  ].filter(Boolean));
  renderDevices(s.devices);
  renderGateway(s);
  renderTags(s.tags || {});
  renderPrint(s);
  const filter = $("read-filter");
  const have = new Set([...filter.options].map((o) => o.value));
  for (const d of s.devices) if (d.reads && !have.has(d.id)) filter.append(h("option", { value: d.id }, d.id));
}

// Cards are rebuilt only when their device changed, and left in place otherwise: a button
// being clicked is never taken out of the page under the pointer by a status update.
const cards = new Map();
function renderDevices(devices) {
  const box = $("devices");
  const ids = new Set(devices.map((d) => d.id));
  for (const [id, card] of cards) {
    if (!ids.has(id)) { card.el.remove(); cards.delete(id); }
  }
  let previous = null;
  for (const d of devices) {
    const key = JSON.stringify(d) + state.lang;
    let card = cards.get(d.id);
    if (!card || card.key !== key) {
      const el = deviceCard(d);
      if (card) card.el.replaceWith(el);
      card = { key, el };
      cards.set(d.id, card);
    }
    const expected = previous ? previous.nextSibling : box.firstChild;
    if (expected !== card.el) box.insertBefore(card.el, expected);
    previous = card.el;
  }
}

function deviceCard(d) {
  {
    const card = h("div", { class: "card state-" + d.state, "data-device": d.id, id: "device-" + d.id },
      h("div", { class: "card-head" }, h("strong", {}, d.id), " ", h("span", { class: "muted" }, d.kind),
        h("span", { class: "pill " + (d.state === "up" ? "good" : d.state === "down" ? "bad" : "") }, t(d.state))),
      d.since ? kv(t("since"), ago(d.since)) : null,
      d.detail ? kv(t("why"), d.detail, "bad") : null);
    if (d.reads) {
      card.append(kv(t("reads_total"), d.reads_total + " · " + t("rejects") + " " + d.rejects_total));
      if (d.last_read_at) card.append(kv(t("last_read"), ago(d.last_read_at)));
      if (d.last_reject) card.append(kv(t("last_reject"), d.last_reject, "bad"));
    }
    if (d.rfid) {
      card.append(h("div", { class: "buttons" },
        h("button", { onclick: () => act("read-window", { device: d.id, action: "start" }) }, t("window_open")),
        h("button", { onclick: () => act("read-window", { device: d.id, action: "stop" }) }, t("window_close"))));
    }
    const inputs = Object.entries(d.inputs || {});
    if (inputs.length) {
      card.append(h("div", { class: "lines" }, t("inputs") + ": ",
        inputs.map(([line, i]) => h("span", { class: "line " + (i.active ? "on" : "off"), "data-line": line }, line + " " + i.state))));
    }
    const outputs = Object.entries(d.outputs || {});
    if (outputs.length) {
      card.append(h("div", { class: "lines" }, t("outputs") + ": ",
        outputs.map(([line, on]) => h("span", { class: "line-control" },
          h("span", { class: "line " + (on ? "on" : "off"), "data-line": line },
            line + " " + (d.patterns && d.patterns[line] ? d.patterns[line] : t(on ? "on" : "off"))),
          h("button", { class: "small", "data-action": "toggle", "data-line": line,
            onclick: () => act("output", { device: d.id, line, state: on ? "off" : "on" }) }, t("toggle")),
          h("button", { class: "small", onclick: () => act("output", { device: d.id, line, state: "on", for_ms: 1000 }) }, t("pulse"))))));
    }
    if (d.printer) {
      const p = d.printer;
      card.append(kv(t("printer"), (p.ready ? t("ready") : p.state) + (p.faults.length ? " · " + t("faults") + ": " + p.faults.join(", ") : ""), p.ready ? "" : "bad"));
    }
    return card;
  }
}

function renderGateway(s) {
  const q = s.queue, b = s.broker, c = s.clock;
  const items = [
    kv(t("version"), s.version),
    kv(t("uptime"), s.daemon.uptime_s !== null ? Math.round(s.daemon.uptime_s) + " s" : ""),
    kv(t("outbox") + " · " + t("undelivered"), String(q.undelivered)),
    kv(t("outbox") + " · " + t("oldest"), q.oldest_undelivered_age_s !== null ? q.oldest_undelivered_age_s + " s" : "—"),
    kv(t("capacity"), q.capacity_left_days !== null && q.capacity_left_days !== undefined ? q.capacity_left_days.toFixed(1) + " " + t("days") : "—"),
    kv(t("set_aside") + " / " + t("lost"), q.set_aside_total + " / " + q.lost_total, q.lost_total ? "bad" : ""),
    kv(t("delivered"), String(q.delivered_total)),
    kv(t("uplink"), s.uplink.kind + " " + s.uplink.url),
    kv(t("node"), b.host + ":" + b.port + " " + t(b.connected ? "online" : "offline"), b.connected ? "" : "bad"),
    kv(t("last_ack"), ago(b.last_ack_at) || "—"),
  ];
  if (b.offline_since) items.push(kv(t("offline_since"), ago(b.offline_since), "bad"));
  if (b.last_error) items.push(kv(t("credentials"), b.last_error, "bad"));
  if (c) items.push(kv(t("clock"), (c.synced ? t("clock_ok") : t("clock_held")) + (c.held ? " · " + c.held + " " + t("held") : "") + (c.advice ? " — " + c.advice : ""), c.synced ? "" : "bad"));
  if (b.refused) items.push(kv(t("credentials"), JSON.stringify(b.refused), "bad"));
  if (s.integrity) items.push(kv(t("integrity") + " · " + t("public_key"), s.integrity.algorithm + " " + s.integrity.public_key, "code"));
  $("gateway-info").replaceChildren(...items);
}

function renderTags(tags) {
  const readers = Object.entries(tags);
  $("tags").replaceChildren(...(readers.length ? readers.map(([device, rows]) =>
    h("div", { class: "tag-table", "data-device": device }, h("h3", {}, device),
      h("table", {}, h("thead", {}, h("tr", {}, ["epc", "antenna", "zone", "peak_rssi", "reads_total", "movement", "seen"].map((k) => h("th", {}, t(k))))),
        h("tbody", {}, rows.map((r) => h("tr", { "data-epc": r.epc },
          h("td", { class: "code" }, r.uri || r.epc), h("td", {}, r.antenna ?? ""), h("td", {}, r.zone ?? ""),
          h("td", {}, r.peak_rssi_dbm !== null ? r.peak_rssi_dbm.toFixed(1) + " dBm" : ""),
          h("td", {}, r.reads), h("td", {}, r.movement ?? ""), h("td", {}, new Date(r.last_seen).toLocaleTimeString(state.lang))))))))
    : [h("p", { class: "muted" }, t("no_tags"))]));
}

function renderPrint(s) {
  const printers = s.devices.filter((d) => d.printer || /printer/.test(d.kind));
  $("print-details").hidden = printers.length === 0;
  if (!state.printFormFilled && printers.length) {
    $("print-printer").replaceChildren(...printers.map((p) => h("option", { value: p.id }, p.id)));
    $("print-template").replaceChildren(...(s.print_templates || []).map((n) => h("option", { value: n }, n)));
    state.printFormFilled = true;
  }
  const undecided = (s.print && s.print.undecided) || [];
  const key = JSON.stringify(undecided) + state.lang;
  if (state.undecidedKey === key) return;
  state.undecidedKey = key;
  $("undecided").replaceChildren(...(undecided.length ? [h("p", {}, t("undecided")),
    ...undecided.map((key) => h("div", { class: "buttons" }, h("span", { class: "code" }, key), " ",
      h("button", { onclick: () => act("print-decide", { key, decision: "reprint" }) }, t("reprint")),
      h("button", { onclick: () => act("print-decide", { key, decision: "printed" }) }, t("printed_intact")),
      h("button", { onclick: () => act("print-decide", { key, decision: "void" }) }, t("void"))))] : []));
}

function printVars() {
  const vars = {};
  for (const line of $("print-vars").value.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) vars[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return vars;
}

$("preview-button").addEventListener("click", async () => {
  const res = await api("/api/preview", { printer: $("print-printer").value, template: $("print-template").value, vars: printVars() });
  const img = $("preview");
  if (res.ok && (res.headers.get("Content-Type") || "").startsWith("image/png")) {
    if (img.src) URL.revokeObjectURL(img.src);
    img.src = URL.createObjectURL(await res.blob());
    img.hidden = false;
    $("print-result").textContent = "";
  } else {
    const reply = await res.json().catch(() => ({}));
    img.hidden = true;
    $("print-result").textContent = t("failed") + ": " + (reply.error || res.statusText);
    $("print-result").className = "result bad";
  }
});

$("print-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = "web-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 8);
  await act("print", { device: $("print-printer").value, template: $("print-template").value, vars: printVars(), copies: 1, key }, $("print-result"));
});

$("reload").addEventListener("click", () => act("reload", {}, $("reload-result")));

async function loadEvents() {
  const res = await api("/api/events?limit=20");
  if (!res.ok) return;
  const { events } = await res.json();
  $("events").replaceChildren(h("button", { onclick: loadEvents }, t("refresh")), ...events.map((e) =>
    h("details", { class: "event" }, h("summary", {}, h("span", { class: "code" }, e.event_id), " · ", e.device, " · ",
      h("span", { class: e.delivered_at_ms ? "good" : "warn" }, e.delivered_at_ms ? t("delivered") : t("not_delivered"))),
      h("pre", {}, JSON.stringify(e.event, null, 2)))));
}
$("events-details").addEventListener("toggle", (e) => { if (e.target.open) loadEvents(); });

(async () => {
  translate();
  const s = await loadSession();
  if (!s.password_required || s.signed_in) connect();
})();
