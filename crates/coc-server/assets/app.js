// COC console: small progressive enhancements. Every page works without it.
"use strict";

// Mark the page as scripted: controls that need this file show only then.
document.documentElement.dataset.js = "on";

// Deleting or revoking asks first (without script, the button acts at once).
document.addEventListener("submit", (ev) => {
  const f = ev.target.closest("form[data-confirm]");
  if (f && !window.confirm(f.dataset.confirm)) ev.preventDefault();
});

// Refresh a region without reloading the page.
document.addEventListener("click", async (ev) => {
  const b = ev.target.closest("[data-action=refresh]");
  if (!b) return;
  const target = document.getElementById(b.dataset.target);
  if (!target) return;
  const r = await fetch(target.dataset.refresh || location.href, { credentials: "same-origin" });
  if (!r.ok) return;
  const doc = new DOMParser().parseFromString(await r.text(), "text/html");
  const fresh = doc.getElementById(b.dataset.target);
  if (fresh) target.replaceWith(fresh);
});

// Live ticket output: server-sent events append output and mark hosts done.
window.addEventListener("DOMContentLoaded", () => {
  const table = document.querySelector("[data-events]");
  if (!table || !window.EventSource) return;
  const es = new EventSource(table.dataset.events, { withCredentials: true });
  // A row by its run's id; a script ticket's row is its host's, shown
  // before the run existed: it takes the run's id when first named.
  function rowOf(id, host) {
    const row = document.getElementById("task-" + id) ||
      (host && document.querySelector('#tasks tr[data-host="' + CSS.escape(host) + '"]'));
    if (row) row.id = "task-" + id;
    return row;
  }
  es.addEventListener("output", (e) => {
    const d = JSON.parse(e.data);
    const row = rowOf(d.task_id, d.host_id);
    if (row) row.querySelector(".out").textContent += d.data;
  });
  es.addEventListener("task_done", () => reloadStatus());
  // Steps also move without an agent's word (an approval asked, a sleep
  // over, the next step started): look again every 3 s while it runs.
  const poll = setInterval(() => reloadStatus(), 3000);
  es.addEventListener("snapshot", (e) => {
    const t = JSON.parse(e.data);
    // A job ticket's runs are its steps' hosts' runs.
    const runs = (t.steps || []).flatMap((st) =>
      (st.hosts || []).flatMap((h) => h.runs || []));
    for (const x of (t.tasks || []).concat(runs)) {
      const row = rowOf(x.id, x.host_id);
      if (!row) continue;
      row.querySelector(".st").textContent = x.status;
      row.querySelector(".exit").textContent = x.exit_code ?? "";
      row.querySelector(".out").textContent = x.output;
    }
    const st = document.getElementById("ticket-status");
    if (st) { st.textContent = t.status; st.className = "status " + t.status; }
    if (["successful", "failed", "terminated"].includes(t.status)) {
      es.close();
      clearInterval(poll);
      // The last word: every row, step and approval as stored.
      reloadStatus();
    }
  });
  async function reloadStatus() {
    const r = await fetch(location.href, { credentials: "same-origin" });
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    const body = document.querySelector("#tasks tbody");
    for (const row of doc.querySelectorAll("#tasks tbody tr")) {
      const mine = rowOf(row.id.slice("task-".length), row.dataset.host);
      // A job's next step starts new runs: add their rows.
      if (!mine) { body.appendChild(document.importNode(row, true)); continue; }
      mine.querySelector(".st").textContent = row.querySelector(".st").textContent;
      mine.querySelector(".exit").textContent = row.querySelector(".exit").textContent;
      // Output sent before the stream opened is only in the stored copy:
      // take it whenever it holds at least what the stream has shown.
      const out = row.querySelector(".out").textContent;
      if (out.length >= mine.querySelector(".out").textContent.length)
        mine.querySelector(".out").textContent = out;
      const act = row.querySelector(".act");
      if (act) mine.querySelector(".act").replaceChildren(...act.childNodes);
    }
    const st = doc.getElementById("ticket-status");
    if (st) document.getElementById("ticket-status").replaceWith(document.importNode(st, true));
    // Steps and approvals (an approval a later step asks for included).
    for (const id of ["progress", "ticket-actions"]) {
      const fresh = doc.getElementById(id), mine = document.getElementById(id);
      if (fresh && mine) mine.replaceWith(document.importNode(fresh, true));
    }
  }
});

// Cards of a grouped form (a job's tasks): only the fields that apply to
// the chosen type show; the others are disabled, so they are not sent.
function applySwitch(card) {
  const sw = card.querySelector("[data-switch]");
  if (!sw) return;
  for (const cell of card.querySelectorAll("[data-when]")) {
    const on = cell.dataset.when.split(" ").includes(sw.value);
    cell.hidden = !on;
    for (const x of cell.querySelectorAll("input, select, textarea")) x.disabled = !on;
  }
}
document.addEventListener("change", (ev) => {
  const sw = ev.target.closest("[data-switch]");
  if (sw) applySwitch(sw.closest("[data-item]"));
  // A picked record fills its sibling (a script's parameter defaults)
  // unless something else was typed there.
  const pick = ev.target.closest("select[data-fills]");
  if (pick) {
    const to = document.getElementsByName(pick.dataset.fills)[0];
    const before = pick.dataset.last || "";
    const hint = pick.selectedOptions[0]?.dataset.hint || "";
    if (to && (to.value.trim() === "" || to.value === before)) to.value = hint;
    pick.dataset.last = hint;
  }
});
window.addEventListener("DOMContentLoaded", () => {
  for (const card of document.querySelectorAll("[data-item]")) applySwitch(card);
  for (const pick of document.querySelectorAll("select[data-fills]"))
    pick.dataset.last = pick.selectedOptions[0]?.dataset.hint || "";
});
// "Add a task": a copy of the last card, blank, with the next index.
document.addEventListener("click", (ev) => {
  const b = ev.target.closest("[data-add-item]");
  if (!b) return;
  const cards = document.querySelectorAll("#" + CSS.escape(b.dataset.addItem) + " > [data-item]");
  const last = cards[cards.length - 1];
  if (!last) return;
  const copy = last.cloneNode(true);
  const n = cards.length;
  const re = /^(f\.[^.]+\.)(\d+)\./;
  for (const x of copy.querySelectorAll("[name], [id], [for], [data-fills]")) {
    for (const attr of ["name", "id", "for", "data-fills"]) {
      const v = x.getAttribute(attr);
      if (v === null) continue;
      x.setAttribute(attr, attr === "name" || attr === "data-fills"
        ? v.replace(re, (_, a) => a + n + ".")
        : v.replace(/^(f-[^-]+-)(\d+)-/, (_, a) => a + n + "-"));
    }
    if (x.matches("input[type=checkbox]")) x.checked = false;
    else if (x.matches("input, textarea")) x.value = "";
    else if (x.matches("select")) x.selectedIndex = 0;
  }
  copy.querySelector("legend").textContent = copy.querySelector("legend").textContent.replace(/\d+$/, n + 1);
  last.after(copy);
  applySwitch(copy);
});

// Times are written in UTC; each shows in the viewer's zone, UTC on hover.
function localTimes(root) {
  for (const t of root.querySelectorAll("time:not([data-utc])")) {
    const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d(:\d\d)?) UTC$/.exec(t.textContent.trim());
    if (!m) continue;
    const d = new Date(m[1] + "T" + m[2] + "Z");
    if (isNaN(d)) continue;
    t.dataset.utc = t.textContent.trim();
    t.title = t.dataset.utc;
    t.dateTime = d.toISOString();
    t.textContent = d.toLocaleString(undefined, {
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
      hour12: false, timeZoneName: "short",
    });
  }
}
window.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  // Rows and regions that arrive later (live tickets, refreshes).
  new MutationObserver(() => localTimes(document))
    .observe(document.body, { childList: true, subtree: true });
});

// Select all shown rows of a list, or a group's rows.
document.addEventListener("change", (ev) => {
  const all = ev.target.closest("[data-select-all]");
  const group = ev.target.closest("[data-select-group]");
  const scope = all ? document.getElementById(all.dataset.selectAll)
    : group ? group.closest("tbody") : null;
  if (!scope) return;
  for (const b of scope.querySelectorAll("input[type=checkbox][name]")) b.checked = ev.target.checked;
  if (all) for (const g of scope.querySelectorAll("[data-select-group]")) g.checked = ev.target.checked;
});

// The navigation marks the section the page belongs to: by its path,
// else by where its way back leads (a record listed in another section).
window.addEventListener("DOMContentLoaded", () => {
  const back = document.getElementById("back");
  const paths = [location.pathname];
  if (back) paths.push(new URL(back.href).pathname);
  for (const path of paths) {
    let best = null;
    for (const a of document.querySelectorAll("#main-nav a")) {
      const p = a.getAttribute("href");
      // The overview's own path is the prefix of every page: only itself.
      const here = path === p || (p !== "/console" && path.startsWith(p + "/"));
      if (here && (!best || p.length > best.getAttribute("href").length)) best = a;
    }
    if (best) {
      best.setAttribute("aria-current", "page");
      return;
    }
  }
});

// A group of a list folds and unfolds under its heading.
document.addEventListener("click", (ev) => {
  const b = ev.target.closest("[data-collapse]");
  if (!b) return;
  const open = b.getAttribute("aria-expanded") !== "true";
  b.setAttribute("aria-expanded", String(open));
  b.textContent = open ? "▾" : "▸";
  for (const tr of b.closest("tbody").querySelectorAll("tr:not(.group-head)")) tr.hidden = !open;
});

// A form with a file to upload (an agent build): the file goes to the API
// as the request's body, the form's other fields in its query string;
// then the page of what was created. Without script the console says
// that this form needs it.
document.addEventListener("submit", async (ev) => {
  const form = ev.target.closest("form");
  const input = form && form.querySelector("input[type=file][data-upload]");
  if (!input) return;
  ev.preventDefault();
  const fail = (text) => {
    let p = form.querySelector("#form-error");
    if (!p) {
      p = document.createElement("p");
      p.className = "error";
      p.id = "form-error";
      p.setAttribute("role", "alert");
      form.prepend(p);
    }
    p.textContent = text;
  };
  const file = input.files && input.files[0];
  if (!file) return fail(input.labels[0].textContent + ": choose a file");
  const query = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (name === "csrf" || name === input.name || typeof value !== "string") continue;
    query.append(name.replace(/^f\./, ""), value.trim());
  }
  const button = form.querySelector("button[type=submit]");
  if (button) button.disabled = true;
  try {
    const r = await fetch(input.dataset.upload + "?" + query, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/octet-stream",
        "X-CSRF-Token": form.elements.csrf.value,
      },
      body: file,
    });
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) return fail(answer.detail || "the upload failed (" + r.status + ")");
    location.href = form.action.replace(/\/new$/, "/" + encodeURIComponent(answer.id));
  } catch (e) {
    fail("the upload failed: " + e);
  } finally {
    if (button) button.disabled = false;
  }
});
