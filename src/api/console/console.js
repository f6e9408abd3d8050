// cairn's web console: one page, hash routing, every figure from /api/v1 with the token that the
// person typed (kept in sessionStorage, for this tab only). Every text that comes from the server
// goes into the page through textContent, never as HTML: names come from a share.
"use strict";

(() => {
  const KEY = "cairn.token";
  const PAGES = ["dashboard", "backups", "backup", "jobs", "alerts", "settings"];
  const REFRESH_MS = 3000;
  const JOB_POLL_MS = 1000;

  let token = sessionStorage.getItem(KEY) || "";
  let page = null;
  let refreshTimer = null;
  let generation = 0; // of the refresh chain: a newer refresh ends an older one
  let watched = null; // {id, timer}
  let location0 = null; // the location document the settings form was filled from
  let shownBackup = ""; // the id of the backup whose detail page (#backups/ID) is shown

  const $ = (id) => document.getElementById(id);

  // -- building the page from text ------------------------------------------------------------

  /** An element with a class and children (strings become text nodes). */
  function el(tag, cls, ...children) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function clear(e) {
    while (e.firstChild) e.removeChild(e.firstChild);
  }

  function badge(state) {
    const s = String(state || "unknown");
    return el("span", "state " + s.replace(/[^a-z_]/gi, ""), s.replace(/_/g, " "));
  }

  /** Show an error (and its remedy) or a note in a message box. */
  function message(box, kind, text, remedy) {
    clear(box);
    box.className = "msg " + kind;
    box.append(el("p", null, text));
    if (remedy) box.append(el("p", null, el("span", "label", "What to do: "), remedy));
    box.hidden = false;
  }

  function hide(box) {
    clear(box);
    box.hidden = true;
  }

  function bytes(n) {
    if (n === null || n === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let v = Number(n);
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i += 1;
    }
    return (i === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + " " + units[i];
  }

  function when(t) {
    if (!t) return "–";
    const d = new Date(t);
    return isNaN(d.getTime()) ? String(t) : d.toLocaleString();
  }

  function took(ms) {
    if (ms === null || ms === undefined) return "–";
    const s = ms / 1000;
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + " s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + " min " + Math.round(s - m * 60) + " s";
    return Math.floor(m / 60) + " h " + (m % 60) + " min";
  }

  function plain(n) {
    const v = Number(n);
    return Number.isFinite(v) ? String(Math.round(v * 1000) / 1000) : "";
  }

  // -- the API --------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, error, remedy) {
      super(error);
      this.status = status;
      this.remedy = remedy || "";
    }
  }

  async function api(method, path, body) {
    return (await request(method, path, body)).doc;
  }

  /** A request's answer: its JSON document and its response (for the headers). */
  async function request(method, path, body) {
    const headers = { Authorization: "Bearer " + token, Accept: "application/json" };
    const init = { method, headers, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "cannot reach the cairn server (" + e.message + ")",
        "check that `cairn serve` is running, then reload the page");
    }
    const text = await resp.text();
    let doc = null;
    try {
      doc = text ? JSON.parse(text) : null;
    } catch (_) {
      doc = null;
    }
    if (!resp.ok) {
      const err = new ApiError(resp.status,
        (doc && doc.error) || method + " " + path + " answered " + resp.status,
        doc && doc.remedy);
      if (resp.status === 401 && token) signOut(err);
      throw err;
    }
    return { doc, resp };
  }

  /** Run a refresh; a failure shows in the page's banner instead of the figures. */
  async function guarded(f) {
    try {
      await f();
      if (token) hide($("g-msg"));
    } catch (e) {
      if (!token) return; // signed out by a 401: the sign-in page says why
      message($("g-msg"), "error", "Could not refresh: " + e.message, e.remedy);
    }
  }

  // -- signing in and out -----------------------------------------------------------------------

  function showSignin(err) {
    for (const p of PAGES) $("page-" + p).hidden = true;
    $("nav").hidden = true;
    $("sign-out").hidden = true;
    hide($("g-msg"));
    $("page-signin").hidden = false;
    document.title = "Sign in · cairn";
    if (err) message($("signin-msg"), "error", err.message, err.remedy);
    $("token").focus();
  }

  function signOut(err) {
    token = "";
    sessionStorage.removeItem(KEY);
    stopTimers();
    page = null;
    showSignin(err);
  }

  async function signIn(ev) {
    ev.preventDefault();
    const typed = $("token").value.trim();
    if (!typed) return;
    const btn = ev.submitter || null;
    if (btn) btn.disabled = true;
    token = typed;
    try {
      await api("GET", "/api/v1/status");
      sessionStorage.setItem(KEY, token);
      $("token").value = "";
      hide($("signin-msg"));
      route();
    } catch (e) {
      token = "";
      message($("signin-msg"), "error", e.message, e.remedy);
      showSignin();
    } finally {
      if (btn) btn.disabled = false;
    }
  }

  // -- routing ----------------------------------------------------------------------------------

  function stopTimers() {
    clearTimeout(refreshTimer);
    refreshTimer = null;
    if (watched) clearTimeout(watched.timer);
    watched = null;
  }

  function route() {
    if (!token) {
      showSignin();
      return;
    }
    let want = location.hash.slice(1);
    if (want.startsWith("backups/")) {
      shownBackup = decodeURIComponent(want.slice("backups/".length));
      want = "backup";
    }
    let next = PAGES.includes(want) ? want : "dashboard";
    if (next === "backup" && !shownBackup) next = "backups";
    $("page-signin").hidden = true;
    $("nav").hidden = false;
    $("sign-out").hidden = false;
    for (const p of PAGES) $("page-" + p).hidden = p !== next;
    for (const a of document.querySelectorAll("[data-nav]")) {
      const on = a.dataset.nav === (next === "backup" ? "backups" : next);
      a.classList.toggle("current", on);
      if (on) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    document.title = (next === "backup" ? "Backup " + shownBackup : next.charAt(0).toUpperCase() + next.slice(1)) + " · cairn";
    page = next;
    hide($("g-msg"));
    if (page === "settings") guarded(loadSettings);
    refresh();
  }

  const LOADERS = { dashboard: loadDashboard, backups: loadBackups, backup: loadBackup, jobs: loadJobs, alerts: loadAlerts };

  /** Load the current page now and again every few seconds while it is shown. */
  async function refresh() {
    clearTimeout(refreshTimer);
    refreshTimer = null;
    const mine = ++generation;
    const load = LOADERS[page];
    if (!load || !token) return;
    await guarded(load);
    if (mine === generation && token) {
      refreshTimer = setTimeout(refresh, REFRESH_MS);
    }
  }

  // -- dashboard ----------------------------------------------------------------------------------

  async function loadDashboard() {
    const [st, alerts] = await Promise.all([api("GET", "/api/v1/status"), api("GET", "/api/v1/alerts")]);
    const last = st.last_backup;
    $("d-last").textContent = last ? last.id : "No backup yet";
    const LAST = { exported: "exported to the target", internal_only: "kept internally, not exported yet",
      complete: "complete (no target set)" };
    $("d-last-detail").textContent = last ? when(last.time) + " · " + (LAST[last.state] || last.state) : "";
    $("d-next").textContent = st.next_backup ? when(st.next_backup) : "Not scheduled";
    $("d-sched").textContent = st.enabled
      ? "Scheduled backup is enabled."
      : st.target
        ? "The scheduler is disabled (Settings)."
        : "Backup is not enabled yet: set the location in Settings.";
    if (st.target) {
      $("d-target").textContent = st.target.url;
      const ex = st.target.last_export;
      $("d-export").textContent = !ex
        ? "Nothing exported yet."
        : (st.target.reached ? "The last export reached the target" : "The last export did not reach the target (" + String(ex.state).replace(/_/g, " ") + ")")
          + (ex.ended ? ", " + when(ex.ended) : "") + ".";
    } else {
      $("d-target").textContent = "No target set";
      $("d-export").textContent = "Backups stay internal until a location is saved in Settings.";
    }
    if (st.running_job) watch(st.running_job.id, st.running_job);
    else if (!watched) showNoJob();
    renderAlerts($("d-alerts"), alerts, false);
    $("d-alerts-none").hidden = alerts.length > 0;
  }

  function showNoJob() {
    $("d-job").hidden = true;
    $("d-job-none").hidden = false;
  }

  function showJob(job) {
    $("d-job-none").hidden = true;
    $("d-job").hidden = false;
    $("d-job-kind").textContent = String(job.kind).replace(/_/g, " ");
    $("d-job-id").textContent = job.id;
    const p = job.progress;
    const bar = $("d-job-bar");
    $("d-job-phase").textContent = p ? p.phase : "starting";
    if (p && p.bytes_total) {
      const pct = Math.min(100, Math.round((100 * p.bytes_done) / p.bytes_total));
      bar.value = pct;
      bar.textContent = pct + " %";
      $("d-job-figures").textContent = pct + " % · " + bytes(p.bytes_done) + " of " + bytes(p.bytes_total)
        + " · " + p.files_done + " files";
    } else {
      bar.removeAttribute("value"); // indeterminate
      $("d-job-figures").textContent = p ? bytes(p.bytes_done) + " · " + p.files_done + " files" : "";
    }
  }

  /** Follow job `id` every second until it ends; then show how it ended and refresh. */
  function watch(id, first) {
    if (watched && watched.id === id) return;
    if (watched) clearTimeout(watched.timer);
    watched = { id, timer: null };
    $("d-job-last").hidden = true;
    if (first) showJob(first);
    const poll = async () => {
      if (!watched || watched.id !== id || !token) return;
      let job;
      try {
        job = await api("GET", "/api/v1/jobs/" + encodeURIComponent(id));
      } catch (e) {
        watched.timer = setTimeout(poll, JOB_POLL_MS * 3);
        return;
      }
      if (!watched || watched.id !== id) return;
      if (job.state === "running") {
        showJob(job);
        watched.timer = setTimeout(poll, JOB_POLL_MS);
        return;
      }
      watched = null;
      showNoJob();
      const done = $("d-job-last");
      clear(done);
      done.append(el("span", null, "Last job: " + String(job.kind).replace(/_/g, " ") + " "),
        el("span", "mono", job.id), " ", badge(job.state));
      if (job.backup) done.append(" · backup ", backupLink(job.backup));
      if (job.error) done.append(el("p", null, job.error));
      if (job.remedy) done.append(el("p", null, el("span", "label", "What to do: "), job.remedy));
      done.hidden = false;
      hide($("now-msg"));
      if (page === "dashboard") refresh();
    };
    poll();
  }

  async function backUpNow(ev) {
    const btn = ev.currentTarget;
    btn.disabled = true;
    hide($("now-msg"));
    try {
      const r = await api("POST", "/api/v1/backups", {});
      message($("now-msg"), "ok", "Backup started: job " + r.job_id + ".");
      watch(r.job_id, { id: r.job_id, kind: r.kind || "backup", state: "running" });
    } catch (e) {
      message($("now-msg"), "error", e.message, e.remedy);
    } finally {
      btn.disabled = false;
    }
  }

  // -- alerts -------------------------------------------------------------------------------------

  function renderAlerts(list, alerts, details) {
    clear(list);
    for (const a of alerts) {
      const li = el("li", String(a.severity || "") + (a.state === "cleared" ? " cleared" : ""));
      li.append(el("p", null, badge(a.severity), " ", el("span", "strong", a.subject), " · ", a.message));
      li.append(el("p", "remedy", el("span", "label", "What to do: "), a.remedy));
      if (details) {
        let meta = "raised " + when(a.raised);
        if (a.count > 1) meta += " · seen " + a.count + " times, last " + when(a.last_seen);
        if (a.cleared) meta += " · cleared " + when(a.cleared);
        meta += " · " + a.kind + " · " + a.cause;
        if (a.job) meta += " · job " + a.job;
        li.append(el("p", "muted", meta));
      }
      list.append(li);
    }
  }

  async function loadAlerts() {
    const all = $("a-all").checked;
    const alerts = await api("GET", "/api/v1/alerts" + (all ? "?all=true" : ""));
    renderAlerts($("a-list"), alerts, true);
    $("a-none").hidden = alerts.length > 0;
    $("a-none").textContent = all ? "No alerts." : "No active alerts.";
  }

  // -- backups and jobs ---------------------------------------------------------------------------

  function cell(cls, ...children) {
    return el("td", cls, ...children);
  }

  // the backups page shows one page of the list, newest first; `cursors` holds the `before` of
  // each page shown before the current one (for "Newer"), `nextCursor` the one of the next page
  let cursors = [];
  let cursor = "";
  let nextCursor = "";

  async function loadBackups() {
    const path = "/api/v1/backups" + (cursor ? "?before=" + encodeURIComponent(cursor) : "");
    const { doc: list, resp } = await request("GET", path);
    // the Link header's rel="next" URL carries the cursor of the next (older) page
    const link = resp.headers.get("Link") || "";
    const m = /[?&]before=([^&>]+)[^>]*>;\s*rel="next"/.exec(link);
    nextCursor = m ? decodeURIComponent(m[1]) : "";
    const total = Number(resp.headers.get("X-Total-Count") || list.length);
    const rows = $("b-rows");
    clear(rows);
    for (const b of list) {
      const services = el("ul");
      for (const s of b.services || []) {
        services.append(el("li", null, badge("ok"), " ", el("span", "strong", s.name), " ",
          el("span", "muted", "(" + s.kind + ") " + s.files + " files, " + bytes(s.bytes) + ", " + took(s.duration_ms))));
      }
      const warnings = (b.warnings || []).length;
      const target = b.target === true ? "exported" : b.target === false ? "internal_only" : null;
      rows.append(el("tr", null,
        cell("mono", backupLink(b.id)),
        cell(null, when(b.time), el("div", "muted", b.host || "")),
        cell(null, services, warnings ? el("div", "muted", warnings + (warnings === 1 ? " warning" : " warnings")) : null),
        cell("num", bytes(b.bytes)),
        cell("num", bytes(b.bytes_new)),
        cell(null, target ? badge(target) : el("span", "muted", "no target"))));
    }
    $("b-none").hidden = list.length > 0;
    $("b-count").textContent = total + (total === 1 ? " backup" : " backups") +
      (total > list.length ? " (" + list.length + " shown)" : "");
    $("b-older").disabled = !nextCursor;
    $("b-newer").disabled = cursors.length === 0;
  }

  function olderBackups() {
    if (!nextCursor) return;
    cursors.push(cursor);
    cursor = nextCursor;
    guarded(loadBackups);
  }

  function newerBackups() {
    if (cursors.length === 0) return;
    cursor = cursors.pop();
    guarded(loadBackups);
  }

  /** A link to the detail page of backup `id`. */
  function backupLink(id) {
    const a = el("a", "mono", id);
    a.href = "#backups/" + encodeURIComponent(id);
    return a;
  }

  /** The detail page of one backup: what `cairn show --json` says about it. */
  async function loadBackup() {
    const id = shownBackup;
    const b = await api("GET", "/api/v1/backups/" + encodeURIComponent(id));
    if (page !== "backup" || id !== shownBackup) return;
    $("bd-id").textContent = b.id;
    const target = b.target === true ? "exported" : b.target === false ? "internal_only" : null;
    const facts = [
      ["Time", when(b.time)],
      ["Host", b.host || "–"],
      ["Size", bytes(b.bytes)],
      ["New data", bytes(b.bytes_new)],
      ["Chunks", String(b.chunks)],
      ["Target", target ? badge(target) : "no target"],
      ["Recipients", (b.recipients || []).join(", ") || "–"],
    ];
    const dl = $("bd-facts");
    clear(dl);
    for (const [k, v] of facts) dl.append(el("dt", null, k), el("dd", null, v));
    const rows = $("bd-rows");
    clear(rows);
    for (const s of b.services || []) {
      rows.append(el("tr", null, cell("strong", s.name), cell(null, s.kind), cell("num", String(s.files)),
        cell("num", String(s.dirs)), cell("num", bytes(s.bytes)), cell("num", bytes(s.bytes_new)),
        cell("num", took(s.duration_ms))));
    }
    const warnings = $("bd-warnings");
    clear(warnings);
    for (const w of b.warnings || []) warnings.append(el("li", null, w));
    $("bd-warn-card").hidden = !(b.warnings || []).length;
  }

  async function loadJobs() {
    const jobs = await api("GET", "/api/v1/jobs?limit=100");
    const rows = $("j-rows");
    clear(rows);
    for (const j of jobs) {
      const details = el("div");
      if (j.backup) details.append(el("div", null, "backup ", backupLink(j.backup)));
      if (j.progress) {
        const p = j.progress;
        details.append(el("div", "muted", p.phase + ": " + bytes(p.bytes_done)
          + (p.bytes_total ? " of " + bytes(p.bytes_total) : "")));
      }
      if (j.error) details.append(el("div", null, j.error));
      if (j.remedy) details.append(el("div", null, el("span", "label", "What to do: "), j.remedy));
      for (const w of j.warnings || []) details.append(el("div", "muted", w));
      rows.append(el("tr", null,
        cell("mono", j.id),
        cell(null, String(j.kind).replace(/_/g, " "), el("div", "muted", j.trigger)),
        cell(null, badge(j.state)),
        cell(null, when(j.started)),
        cell("num", took(j.duration_ms)),
        cell("num", bytes(j.bytes_stored)),
        cell("num", bytes(j.bytes_exported)),
        cell(null, details)));
    }
    $("j-none").hidden = jobs.length > 0;
  }

  // -- settings -----------------------------------------------------------------------------------

  function fillSettings(doc) {
    location0 = doc;
    $("s-url").value = doc.url || "";
    $("s-user").value = doc.username || "";
    $("s-pass").value = "";
    $("s-pass").placeholder = doc.password_set ? "(saved; empty keeps it)" : "";
    $("s-recip").value = (doc.recipients || []).join("\n");
    $("s-sched").checked = !!doc.scheduler_enabled;
    $("s-every").value = plain(doc.backup_every_hours);
    $("s-keep").value = plain(doc.keep_days);
  }

  function showSaved(doc) {
    const dl = $("s-saved-list");
    clear(dl);
    const rows = [
      ["Location URL", doc.url || "(none)"],
      ["Username", doc.username || "(none)"],
      ["Password", doc.password_set ? "saved (never shown)" : "none"],
      ["Recipients", (doc.recipients || []).join(", ") || "(none)"],
      ["Scheduler", doc.scheduler_enabled ? "enabled" : "disabled"],
      ["Back up every", plain(doc.backup_every_hours) + " hours"],
      ["Keep", plain(doc.keep_days) + " days"],
    ];
    if (doc.warning) rows.push(["Warning", doc.warning]);
    for (const [k, v] of rows) dl.append(el("dt", null, k), el("dd", null, v));
    $("s-saved").hidden = false;
  }

  async function loadSettings() {
    $("s-loading").hidden = false;
    const doc = await api("GET", "/api/v1/location");
    if (page !== "settings") return;
    fillSettings(doc);
    hide($("s-msg"));
    $("s-saved").hidden = true;
    $("s-loading").hidden = true;
    $("settings-form").hidden = false;
  }

  function settingsBody() {
    const body = { scheduler_enabled: $("s-sched").checked };
    const url = $("s-url").value.trim();
    const user = $("s-user").value.trim();
    const pass = $("s-pass").value;
    const was = location0 || {};
    // the location is probed only when it changes (or a password is typed)
    if (url && (url !== (was.url || "") || user !== (was.username || "") || pass)) {
      body.url = url;
      body.username = user || null;
      if (pass) body.password = pass;
    }
    const recipients = $("s-recip").value.split("\n").map((r) => r.trim()).filter((r) => r);
    if (recipients.length) body.recipients = recipients;
    const every = $("s-every").value.trim();
    if (every) body.backup_every_hours = Number(every);
    const keep = $("s-keep").value.trim();
    if (keep) body.keep_days = Number(keep);
    return body;
  }

  async function saveSettings(ev) {
    ev.preventDefault();
    const btn = $("s-save");
    btn.disabled = true;
    $("s-saved").hidden = true;
    message($("s-msg"), "", "Saving: probing the location…");
    try {
      const doc = await api("PUT", "/api/v1/location", settingsBody());
      fillSettings(doc);
      message($("s-msg"), "ok", "Saved.");
      showSaved(doc);
    } catch (e) {
      message($("s-msg"), "error", e.message, e.remedy);
    } finally {
      btn.disabled = false;
    }
  }

  // -- wiring ---------------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => signOut());
    $("back-up-now").addEventListener("click", backUpNow);
    $("b-older").addEventListener("click", olderBackups);
    $("b-newer").addEventListener("click", newerBackups);
    $("settings-form").addEventListener("submit", saveSettings);
    $("a-all").addEventListener("change", () => refresh());
    window.addEventListener("hashchange", route);
    route();
  });
})();
