// tasklane live page: sign up or log in, list your tasks (the first page at once, the
// next ones as you scroll down: a list costs what is shown, not every task), edit them in place, and keep the list in sync through the WebSocket stream, with a feed
// of what changed. Shared projects: switch between personal tasks, each project and all;
// create projects, invite, answer invitations, see the members, and edit a task's
// assignee and due date where your role allows. No dependencies; task and project data
// is only ever written with textContent.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, className, props) => Object.assign(document.createElement(tag), { className }, props);
  const KEY = { access: "tasklane.access", refresh: "tasklane.refresh", user: "tasklane.username" };
  const BACKOFF_MIN = 500;
  const BACKOFF_MAX = 30000;
  const FIRST_PAGE = 50; // the first page of a list: on screen at once
  const PAGE = 1000; // the later pages, loaded as the end of the list comes near (the API's largest)
  const MORE_MARGIN = 1500; // px below the window within which the next page is loaded
  const FEED_MAX = 50;
  const FLASH_MS = 2500;

  // The session lives in localStorage, shared by every tab of this origin: a new tab is
  // logged in, logging out (or a password change) in one tab logs out all of them, and
  // a refresh made by one tab is used by the others. docs/security.md ("The live page's
  // session") says what that costs (the refresh token outlives the tab, up to its lifetime).
  const store = window.localStorage;

  // ---- state --------------------------------------------------------------------------
  const tasks = new Map(); // id -> task, the list as we believe the server has it
  const rows = new Map(); // id -> <li>
  const shown = new WeakMap(); // <li> -> the task object it shows
  const gone = new Set(); // ids deleted: never brought back by a late upsert
  const seen = new Map(); // id -> the task as the list or the stream last showed it (for the feed)
  const inFlight = new Map(); // id -> this tab's writes in flight on it
  const creating = new Map(); // title -> this tab's creates in flight with it
  const ownVersions = new Set(); // "id:version" / "id:deleted" this tab's writes produced
  const flashTimers = new Map(); // id -> timer ending its highlight
  let lastEventId = 0; // highest event applied (or covered by a snapshot): resume point
  let buffered = null; // events received while a re-list is in flight, else null
  let socket = null;
  let socketToken = null; // the access token the socket was opened with
  let socketGen = 0; // bumped to disown a socket we no longer want to hear from
  let backoff = BACKOFF_MIN;
  let retryTimer = 0;
  let listTimer = 0;
  let refreshing = null; // the one token refresh in flight in this tab, shared by every caller
  let ending = null; // a password change or account deletion in flight (it may end the session)

  // Projects. Every visible task is in `tasks` (personal and every project's, as the
  // unfiltered list and the stream give them); the view only filters what is shown.
  const projects = new Map(); // id -> the project as you see it (`role` is yours)
  const members = new Map(); // project id -> its members, as last listed
  const membersLoading = new Map(); // project id -> the listing in flight
  let invitations = []; // addressed to you, as last listed
  let me = null; // {id, username}: who is logged in
  let view = "all"; // "all", "none" (personal) or a project id
  let projectsLoading = null; // a listing of the projects in flight, started by an event
  let rowGen = 0; // bumped when what a row shows changes beyond its task (roles, view)

  // The shown view's list, loaded a page at a time by following `Link: rel="next"` as
  // given (the server decides how a page goes on: an offset or a cursor). `edge` is the
  // oldest task listed so far (its id); `done` once no page follows.
  let listing = null; // {gen, next, edge, done, loading}
  let listGen = 0; // bumped to disown a listing (another view, a re-list, logging out)
  // The view's open and done counts, {n, capped} each (null: not known yet), from the
  // lists' totals (X-Total-Count): the server counts, the page never has every task.
  const counts = { open: null, done: null };
  let countTimer = 0;
  let countTries = 0;

  const timeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const clockFmt = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
  const dateText = (iso) => {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : timeFmt.format(d);
  };

  // ---- tokens ---------------------------------------------------------------------------
  const access = () => store.getItem(KEY.access);

  function saveTokens(a, r) {
    store.setItem(KEY.access, a);
    store.setItem(KEY.refresh, r); // last: other tabs act on this key
  }

  function forgetTokens() {
    for (const k of Object.values(KEY)) store.removeItem(k);
  }

  // Sessions used to live in sessionStorage, one tab each: carry one over, once.
  if (!store.getItem(KEY.refresh) && sessionStorage.getItem(KEY.refresh)) {
    store.setItem(KEY.user, sessionStorage.getItem(KEY.user) || "");
    saveTokens(sessionStorage.getItem(KEY.access) || "", sessionStorage.getItem(KEY.refresh));
  }
  for (const k of Object.values(KEY)) sessionStorage.removeItem(k);

  class AuthError extends Error {}

  // An unauthenticated JSON POST (sign up, log in, refresh, revoke).
  const post = (path, body) =>
    fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
    });

  // Only one refresh may be in flight per tab: refresh tokens rotate, so two refreshes
  // with the same token would spend it twice. Everyone in this tab who needs a fresh token
  // awaits the same promise. Other tabs share the stored token: each reads it when it
  // refreshes, and two tabs refreshing the same one at once get the same new pair (the
  // server's grace window), so they never trip its reuse detection.
  function refreshTokens() {
    if (!refreshing) {
      refreshing = (async () => {
        const refresh = store.getItem(KEY.refresh);
        if (!refresh) throw new AuthError("Please log in.");
        const res = await post("/api/token/refresh/", { refresh });
        const now = store.getItem(KEY.refresh);
        if (now && now !== refresh) return; // another tab traded it meanwhile: use its pair
        if (res.status === 401 || res.status === 400) {
          throw new AuthError("Your session has ended. Please log in again.");
        }
        if (!res.ok) throw new Error(`token refresh failed (${res.status})`);
        const body = await res.json();
        // Logged out meanwhile (here or in another tab): don't bring the session back.
        if (store.getItem(KEY.refresh) !== refresh) throw new AuthError("");
        saveTokens(body.access, body.refresh); // always keep the new refresh: the old is spent
      })().finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  // An API call with the access token; on a 401 refresh once and retry once.
  async function api(method, path, body, headers = {}) {
    for (let attempt = 0; ; attempt++) {
      const token = access();
      const res = await fetch(path, {
        method,
        headers: {
          Accept: "application/json",
          Authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
      if (res.status !== 401) return res;
      if (attempt > 0) throw new AuthError("Your session has ended. Please log in again.");
      // If another call (or tab) refreshed while this one was out, just retry.
      if (access() === token) await refreshTokens();
    }
  }

  // A write by this tab to task `id` (null for a create of `title`). While it is in
  // flight, and once it answered by the version it made, the stream's event for it is
  // known as this tab's own: the feed says so and the row does not flash.
  async function write(id, title, method, path, body, headers) {
    const pending = id === null ? creating : inFlight;
    const key = id === null ? title : id;
    pending.set(key, (pending.get(key) || 0) + 1);
    try {
      const res = await api(method, path, body, headers);
      const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
      if (res.ok && data && typeof data.id === "number") ownVersions.add(`${data.id}:${data.version}`);
      if (res.status === 204) ownVersions.add(`${id}:deleted`);
      return { res, data };
    } finally {
      const n = pending.get(key) - 1;
      if (n > 0) pending.set(key, n);
      else pending.delete(key);
    }
  }

  function fromHere(msg) {
    const t = msg.task;
    if (inFlight.has(t.id)) return true;
    if (msg.action === "create" && creating.has(t.title)) return true;
    const key = msg.action === "delete" ? `${t.id}:deleted` : `${t.id}:${t.version}`;
    return ownVersions.delete(key);
  }

  const messages = (v) => (Array.isArray(v) ? v.join(" ") : typeof v === "string" ? v : "");

  // Why a request failed, in the API's words when it gave any.
  function reason(res, data) {
    const said = data && (messages(data.detail) || Object.values(data).map(messages).find(Boolean));
    return said || `the server answered ${res.status}.`;
  }

  // ---- roles ----------------------------------------------------------------------------
  // Each role includes the ones before it (docs/projects.md).
  const RANK = { viewer: 0, editor: 1, admin: 2, owner: 3 };
  const atLeast = (role, want) => role in RANK && RANK[role] >= RANK[want];
  const roleIn = (pid) => projects.get(pid)?.role;

  // Whether you may change task `t`: a personal task is its owner's (the only one who
  // lists it), a project's needs the editor role. The server decides; this only hides
  // the controls it would refuse.
  const canEdit = (t) => t.project == null || atLeast(roleIn(t.project), "editor");

  const inView = (t) => view === "all" || (view === "none" ? t.project == null : t.project === view);

  // ---- views ----------------------------------------------------------------------------
  function showView(which) {
    $("#login-view").hidden = which !== "login";
    $("#signup-view").hidden = which !== "signup";
    $("#app-view").hidden = which !== "app";
    $("#logout").hidden = which !== "app";
  }

  function switchTo(which) {
    showView(which);
    $("#login-error").textContent = "";
    $("#login-notice").textContent = "";
    showFieldErrors($("#signup-form"), {}, $("#signup-error"));
    if (which === "signup") $("#signup-username").focus();
    else ($("#username").value ? $("#password") : $("#username")).focus();
  }

  // ---- rendering --------------------------------------------------------------------------
  function setStatus(state) {
    const pill = $("#status");
    pill.dataset.state = state;
    pill.textContent = { connected: "connected", reconnecting: "reconnecting…", offline: "offline" }[state];
  }

  // A message above the list; `ms` clears it after that long (unless replaced).
  function listMessage(text, ms) {
    clearTimeout(listTimer);
    $("#list-error").textContent = text;
    if (ms) listTimer = setTimeout(() => ($("#list-error").textContent = ""), ms);
  }

  // Newest first: by id, the order tasks were made in (the list's `-id`, which an index
  // serves at any size).
  const newest = (a, b) => b.id - a.id;

  function makeRow(id) {
    const li = el("li", "task");
    li.dataset.taskId = String(id);
    const box = el("input", "task-toggle", { type: "checkbox", id: `task-${id}-done` });
    box.addEventListener("change", () => toggle(id, box));
    const main = el("div", "task-main");
    const view = el("div", "task-view");
    view.append(el("label", "task-title", { htmlFor: box.id }), el("p", "task-description"), el("p", "task-meta"));
    main.append(view, el("p", "error task-error", { role: "alert" }));
    const edit = el("button", "btn btn-quiet task-edit", { type: "button", textContent: "Edit" });
    edit.addEventListener("click", () => startEdit(id));
    const del = el("button", "btn btn-quiet task-delete", { type: "button", textContent: "Delete" });
    del.addEventListener("click", () => remove(id, del));
    const actions = el("div", "task-actions");
    actions.append(edit, del);
    li.append(box, main, actions);
    return li;
  }

  function fillRow(li, t) {
    li.classList.toggle("done", t.completed);
    // A viewer sees the task, not the controls to change it.
    const editable = canEdit(t);
    li.dataset.editable = String(editable);
    li.querySelector(".task-actions").hidden = !editable;
    const box = li.querySelector(".task-toggle");
    box.hidden = !editable;
    // A click on the title ticks the box: not when the box is not yours to tick.
    li.querySelector(".task-title").htmlFor = editable ? box.id : "";
    if (!editable && li.classList.contains("editing")) {
      li.querySelector(".task-edit-form")?.remove();
      li.classList.remove("editing");
    }
    if (!box.disabled) box.checked = t.completed; // a click in flight keeps its tick
    li.querySelector(".task-title").textContent = t.title;
    li.querySelector(".task-edit").setAttribute("aria-label", `Edit “${t.title}”`);
    li.querySelector(".task-delete").setAttribute("aria-label", `Delete “${t.title}”`);
    const desc = li.querySelector(".task-description");
    desc.textContent = t.description || "";
    desc.hidden = !t.description;
    const meta = li.querySelector(".task-meta");
    const when = el("time", "", { dateTime: t.updated_at });
    const d = new Date(t.updated_at);
    when.textContent = Number.isNaN(d.getTime()) ? t.updated_at : timeFmt.format(d);
    meta.replaceChildren(t.completed ? "Done · updated " : "Open · updated ", when);
    // Which project, when the list shows more than one.
    if (t.project != null && view !== t.project) {
      const p = projects.get(t.project);
      meta.append(" · in ", el("span", "task-project", { textContent: p ? p.name : `project ${t.project}` }));
    }
    // The due date and the assignee, when the task has them (changed in the edit form).
    if (t.due_at) {
      const due = el("time", "task-due", { dateTime: t.due_at });
      const dd = new Date(t.due_at);
      due.textContent = Number.isNaN(dd.getTime()) ? t.due_at : timeFmt.format(dd);
      meta.append(" · due ", due);
    }
    if (t.assignee) meta.append(` · assigned to ${t.assignee.username}`);
  }

  // ---- which tasks show --------------------------------------------------------------------
  // The list shows the view's tasks newest first, as far as its pages have been loaded: a
  // known task in the view shows when it sorts at or before the oldest task listed so far
  // (the `edge`), or anywhere once the last page is in. So a task made now shows at the top,
  // and an event about a task further down than the pages reach changes `tasks` (and the
  // counts) without adding a row; its page brings it when the user scrolls that far.
  const shows = (t) =>
    inView(t) && Boolean(listing && (listing.done || (listing.edge !== null && t.id >= listing.edge)));

  // The shown rows' task ids, newest (highest) first, as in the DOM.
  let order = [];

  // Where task `id` goes in `order`: the first row that is not newer.
  function slot(id) {
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order[mid] > id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // Refills row `li` when its task (or what it shows beyond the task) changed.
  function refresh(li, t) {
    if (shown.get(li) !== t || li.dataset.gen !== String(rowGen)) {
      fillRow(li, t);
      shown.set(li, t);
      li.dataset.gen = String(rowGen);
    }
  }

  // Brings the DOM in line with `tasks`, reusing rows, refilling only those whose task
  // changed and moving only those out of place (moving a focused node would lose focus).
  // O(known tasks): for what changes the whole list (the view, roles, a project gone);
  // one task's change goes through `renderTask`, a new page through `appendPage`.
  function render() {
    const ul = $("#tasks");
    const sorted = [...tasks.values()].filter(shows).sort(newest);
    for (const [id, li] of rows) {
      const t = tasks.get(id);
      if (!t || !shows(t)) {
        li.remove();
        rows.delete(id);
      }
    }
    let at = ul.firstElementChild;
    for (const t of sorted) {
      let li = rows.get(t.id);
      if (!li) rows.set(t.id, (li = makeRow(t.id)));
      refresh(li, t);
      if (li === at) at = at.nextElementSibling;
      else ul.insertBefore(li, at);
    }
    order = sorted.map((t) => t.id);
    showListState();
  }

  // One task changed (or went): its row alone is added, refilled or removed.
  function renderTask(id) {
    const t = tasks.get(id);
    const li = rows.get(id);
    if (li && !(t && shows(t))) {
      const i = slot(id);
      if (order[i] === id) order.splice(i, 1);
      li.remove();
      rows.delete(id);
    } else if (t && shows(t)) {
      if (li) return refresh(li, t);
      const row = makeRow(id);
      rows.set(id, row);
      refresh(row, t);
      const i = slot(id);
      order.splice(i, 0, id);
      $("#tasks").insertBefore(row, i + 1 < order.length ? rows.get(order[i + 1]) : null);
    }
    showListState();
  }

  // The edge moved down from `from` (null: the top): the known tasks of the view between
  // it and the new edge go at the end, after every row already shown.
  function appendPage(from) {
    const more = [];
    for (const t of tasks.values()) {
      if (!rows.has(t.id) && (from === null || t.id < from) && shows(t)) more.push(t);
    }
    more.sort(newest);
    const frag = document.createDocumentFragment();
    for (const t of more) {
      const li = makeRow(t.id);
      rows.set(t.id, li);
      refresh(li, t);
      frag.append(li);
      order.push(t.id);
    }
    $("#tasks").append(frag);
    showListState();
  }

  // The counts (from the server's totals), the empty message and the "more" control.
  function showListState() {
    const loaded = Boolean(listing && (listing.edge !== null || listing.done));
    $("#empty").hidden = order.length > 0 || !loaded;
    const more = Boolean(listing && !listing.done && loaded);
    $("#more").hidden = !more;
    $("#more-button").disabled = Boolean(listing?.loading);
    $("#more-button").textContent = listing?.loading ? "Loading…" : "Show more";
    const [open, done] = [counts.open, counts.done];
    const fmt = (c) => (c ? `${c.n}${c.capped ? "+" : ""}` : "…");
    $("#count-open").textContent = fmt(open);
    $("#count-done").textContent = fmt(done);
    const total = open && done ? { n: open.n + done.n, capped: open.capped || done.capped } : null;
    $("#count").textContent = total && total.n ? `(${fmt(total)})` : "";
  }

  function rowError(id, text) {
    const p = rows.get(id)?.querySelector(".task-error");
    if (p) p.textContent = text;
  }

  // A row changed elsewhere lights up for a moment.
  function flash(id) {
    const li = rows.get(id);
    if (!li) return;
    li.classList.remove("flash");
    void li.offsetWidth; // restart the animation
    li.classList.add("flash");
    clearTimeout(flashTimers.get(id));
    flashTimers.set(
      id,
      setTimeout(() => {
        li.classList.remove("flash");
        flashTimers.delete(id);
      }, FLASH_MS),
    );
  }

  // Upsert by id. A task never goes back to an older version: a response may arrive
  // after a newer event for the same task, or the other way round.
  function upsert(t) {
    if (gone.has(t.id)) return;
    const old = tasks.get(t.id);
    if (old && old.version > t.version) return;
    tasks.set(t.id, t);
  }

  function drop(id) {
    gone.add(id);
    tasks.delete(id);
  }

  // ---- the activity feed ------------------------------------------------------------------
  const q = (s) => `“${s}”`;

  function describe(msg, before) {
    const t = msg.task;
    if (msg.action === "create") {
      // Another member's task: say whose.
      const by = t.user && me && t.user.id !== me.id ? `${t.user.username} added` : "Added";
      return `${by} ${q(t.title)}`;
    }
    if (msg.action === "delete") return `Deleted ${q(t.title)}`;
    if (!before) return `Updated ${q(t.title)}`;
    const parts = [];
    if (before.title !== t.title) parts.push(["renamed", `Renamed ${q(before.title)} to ${q(t.title)}`, `was ${q(before.title)}`]);
    if ((before.description || "") !== (t.description || "")) {
      parts.push(["description", `Edited the description of ${q(t.title)}`, "new description"]);
    }
    if (before.completed !== t.completed) {
      parts.push(t.completed ? ["done", `Completed ${q(t.title)}`, "done"] : ["open", `Reopened ${q(t.title)}`, "reopened"]);
    }
    if ((before.assignee?.id ?? null) !== (t.assignee?.id ?? null)) {
      parts.push(
        t.assignee
          ? ["assignee", `Assigned ${q(t.title)} to ${t.assignee.username}`, `assigned to ${t.assignee.username}`]
          : ["assignee", `Unassigned ${q(t.title)}`, "unassigned"],
      );
    }
    if ((before.due_at ?? null) !== (t.due_at ?? null)) {
      parts.push(
        t.due_at
          ? ["due", `Set ${q(t.title)} due ${dateText(t.due_at)}`, `due ${dateText(t.due_at)}`]
          : ["due", `Cleared the due date of ${q(t.title)}`, "no due date"],
      );
    }
    if ((before.project ?? null) !== (t.project ?? null)) {
      const where = t.project == null ? "personal tasks" : q(projects.get(t.project)?.name ?? `project ${t.project}`);
      parts.push(["moved", `Moved ${q(t.title)} to ${where}`, `moved to ${where}`]);
    }
    if (parts.length === 0) return `Updated ${q(t.title)}`;
    if (parts.length === 1) return parts[0][1];
    return `Edited ${q(t.title)} (${parts.map((p) => p[2]).join(", ")})`;
  }

  function addToFeed(msg, before, here) {
    feedLine(msg, describe(msg, before), here).dataset.taskId = String(msg.task.id);
  }

  // One line in the feed, newest first: what happened, where, when.
  function feedLine(msg, text, here) {
    const item = el("li", `feed-item feed-${msg.action}`);
    item.dataset.origin = here ? "here" : "elsewhere";
    const d = new Date(msg.at);
    const when = el("time", "", {
      dateTime: msg.at || "",
      textContent: Number.isNaN(d.getTime()) ? "" : clockFmt.format(d),
    });
    const meta = el("span", "feed-meta");
    meta.append(here ? "this tab" : "elsewhere", " · ", when);
    item.append(el("span", "feed-text", { textContent: text }), meta);
    const feed = $("#feed");
    feed.prepend(item);
    while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
    $("#feed-empty").hidden = true;
    return item;
  }

  function clearFeed() {
    $("#feed").replaceChildren();
    $("#feed-empty").hidden = false;
  }

  // ---- the list and the stream ------------------------------------------------------------
  // The next page's path from a `Link` header, on this server: the link is absolute on
  // the server's --public-url, which may name this page's origin otherwise (another
  // name, or the address behind the proxy); only its path and query are followed. The
  // link repeats the small first page's `limit`: later pages ask for `PAGE` tasks, and the
  // rest of the query (where the list goes on, an offset or a cursor) is kept as given.
  function nextPage(link) {
    const m = link && /<([^>]*)>\s*;\s*rel="?next"?/.exec(link);
    if (!m) return null;
    const url = new URL(m[1], location.href);
    if (!url.pathname.startsWith("/api/tasks")) return null;
    url.searchParams.set("limit", String(PAGE));
    return url.pathname + url.search;
  }

  // The view's filter, as the list API takes it.
  const viewFilter = () => (view === "all" ? "" : `&project=${view}`);

  // One page of a list: its tasks, the next page's path, and the last event it includes.
  async function fetchPage(path) {
    const res = await api("GET", path);
    if (!res.ok) throw new Error(`listing tasks failed (${res.status})`);
    const page = await res.json();
    const last = Number(res.headers.get("X-Last-Event-Id")) || 0;
    return { page, next: nextPage(res.headers.get("Link")), last };
  }

  // A list's total: `X-Total-Count`, and whether the server stopped counting at a bound
  // (then it is "at least n"); null when the header is missing or not a number.
  function totalOf(res) {
    const raw = res.headers.get("X-Total-Count");
    const n = raw === null ? NaN : Number(raw);
    if (!Number.isFinite(n)) return null;
    return { n, capped: /^(true|1|yes)$/i.test(res.headers.get("X-Total-Count-Capped") || "") };
  }

  // The view's open and done totals, and the last event they include.
  async function fetchCounts() {
    const one = async (done) => {
      const res = await api("GET", `/api/tasks/?limit=1&completed=${done}${viewFilter()}`);
      if (!res.ok) throw new Error(`counting tasks failed (${res.status})`);
      return { total: totalOf(res), last: Number(res.headers.get("X-Last-Event-Id")) || 0 };
    };
    const [open, done] = await Promise.all([one(false), one(true)]);
    return { open: open.total, done: done.total, last: open.last === done.last ? open.last : -1 };
  }

  // Takes counts listed as of event `last` if that is where this page is: events after it
  // adjust them (`countChange`); counts from before or after would count some twice or
  // never. Otherwise asks again a little later (the stream catches up meanwhile).
  function takeCounts(c, gen) {
    if (gen !== listGen) return true;
    if (c.last !== lastEventId || !c.open || !c.done) return false;
    counts.open = c.open;
    counts.done = c.done;
    countTries = 0;
    showListState();
    return true;
  }

  // Counts the view again soon (several changes in a row make one request).
  function recount(ms = 300) {
    clearTimeout(countTimer);
    const gen = listGen;
    countTimer = setTimeout(async () => {
      if (gen !== listGen || !access()) return;
      try {
        if (takeCounts(await fetchCounts(), gen)) return;
      } catch (err) {
        if (err instanceof AuthError) return loggedOut(err.message);
      }
      if (gen === listGen && countTries++ < 8) recount(Math.min(300 * 2 ** countTries, 10000));
    }, ms);
  }

  // A change from `before` to `after` (null: absent) moves the counts of the view by what
  // it adds and takes away; counts the server capped are counted again instead.
  function countChange(before, after) {
    if (!counts.open || !counts.done || counts.open.capped || counts.done.capped) return recount();
    for (const [t, sign] of [
      [before, -1],
      [after, 1],
    ]) {
      if (t && inView(t)) (t.completed ? counts.done : counts.open).n += sign;
    }
    showListState();
  }

  // Lists the view from its first page. `fresh` (logging in, a reset): forget every task
  // known; the first page's event id is where the stream resumes. Else (another view, a
  // project joined) the tasks known stay, kept current by the stream.
  async function listView(fresh) {
    const gen = ++listGen;
    listing = { gen, next: null, edge: null, done: false, loading: null };
    counts.open = counts.done = null;
    countTries = 0;
    clearTimeout(countTimer);
    if (!fresh) render(); // the other view's rows go at once
    const { page, next, last } = await fetchPage(`/api/tasks/?limit=${FIRST_PAGE}&ordering=-id${viewFilter()}`);
    const counted = fetchCounts().catch((err) => err);
    if (gen !== listGen) return;
    if (fresh) {
      tasks.clear();
      seen.clear();
      // The snapshot already contains every change up to this event id.
      lastEventId = last;
    }
    takePage(page, next);
    listMessage("");
    render();
    const c = await counted;
    if (c instanceof AuthError) throw c;
    if (c instanceof Error || !takeCounts(c, gen)) recount();
    afterPage();
  }

  // Takes a listed page: its tasks (never older than what the stream showed), and how far
  // the list now reaches.
  function takePage(page, next) {
    for (const t of page) {
      const s = seen.get(t.id);
      if (!s || s.version <= t.version) seen.set(t.id, t);
      upsert(t);
    }
    const last = page[page.length - 1];
    if (last) listing.edge = last.id;
    listing.next = next;
    listing.done = !next;
    // A project joined between listing the projects and the tasks: list the projects again.
    if (page.some((t) => t.project != null && !projects.has(t.project))) listProjectsSoon();
  }

  // The next page of the list, when there is one and none is on its way.
  function loadMore() {
    const l = listing;
    if (!l || l.loading || l.done || !l.next) return;
    l.loading = (async () => {
      try {
        const { page, next } = await fetchPage(l.next);
        if (l !== listing) return;
        const from = l.edge;
        takePage(page, next);
        appendPage(from);
      } catch (err) {
        if (err instanceof AuthError) return loggedOut(err.message);
        if (l === listing) listMessage("Could not load more tasks; scroll or press Show more to try again.", 10000);
        l.failed = true;
      } finally {
        l.loading = null;
        if (l === listing) {
          showListState();
          if (!l.failed) afterPage();
          l.failed = false;
        }
      }
    })();
    showListState();
  }

  // After a page: if the end of the list is still in (or near) the window, load the next.
  function afterPage() {
    const more = $("#more");
    if (more.hidden || $("#app-view").hidden) return;
    if (more.getBoundingClientRect().top < window.innerHeight + MORE_MARGIN) loadMore();
  }

  // Scrolling near the end of the list loads the next page (and tries a failed one again).
  new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && loadMore(), {
    rootMargin: `0px 0px ${MORE_MARGIN}px 0px`,
  }).observe($("#more"));
  let scrollFrame = 0;
  window.addEventListener(
    "scroll",
    () => {
      if (!scrollFrame) scrollFrame = requestAnimationFrame(() => ((scrollFrame = 0), afterPage()));
    },
    { passive: true },
  );

  // Lists the projects again, once at a time (a project seen before its listing).
  function listProjectsSoon() {
    if (projectsLoading) return;
    projectsLoading = loadProjects()
      .catch(() => {})
      .finally(() => (projectsLoading = null));
  }

  function applyProjectEvent(msg) {
    const p = msg.task;
    if (msg.action === "project") {
      const before = projects.get(p.id);
      joinProject(p);
      if (!before && p.role === "owner") feedLine(msg, `Created the project ${q(p.name)}`, false);
      else if (!before) feedLine(msg, `You joined ${q(p.name)} as ${p.role}`, false);
      else if (before.role !== p.role) feedLine(msg, `Your role in ${q(p.name)} is now ${p.role}`, false);
      else if (before.name !== p.name) feedLine(msg, `Renamed ${q(before.name)} to ${q(p.name)}`, false);
      if (before && members.has(p.id)) loadMembers(p.id);
    } else {
      const gone = projects.get(p.id);
      if (!gone) return;
      leaveProject(p.id);
      feedLine(msg, `You are no longer in ${q(gone.name)}`, false);
    }
  }

  // Knows project `p` (as you now see it). A new one's tasks were made before you could
  // see them, so no event brings them: the list of all tasks is listed again (the stream
  // carries their changes from now on).
  function joinProject(p) {
    const known = projects.has(p.id);
    projects.set(p.id, p);
    rowGen++;
    renderProjects();
    if (!known && view === "all") listAgain();
    else render();
  }

  // Lists the view again from its first page (another view, a project joined), retrying
  // while it fails and is still the view wanted.
  function listAgain() {
    const gen = listGen + 1;
    listView(false).catch((err) => {
      if (err instanceof AuthError) return loggedOut(err.message);
      if (gen !== listGen) return;
      listMessage("Could not list these tasks; retrying…");
      setTimeout(() => gen === listGen && listAgain(), 2000);
    });
  }

  // Forgets project `pid` and its tasks (you left, were removed, or it was deleted).
  function leaveProject(pid) {
    projects.delete(pid);
    members.delete(pid);
    for (const [id, t] of tasks) if (t.project === pid) tasks.delete(id);
    rowGen++;
    if (view === pid) {
      view = "all";
      listMessage("That project is gone from your list: showing all tasks.", 10000);
      renderProjects();
      return listAgain();
    }
    renderProjects();
    render();
    if (view === "all") recount();
  }

  function applyEvent(msg) {
    if (msg.event_id <= lastEventId) return; // replayed, or covered by the snapshot
    lastEventId = msg.event_id;
    const t = msg.task;
    if (t && (msg.action === "project" || msg.action === "project_removed")) return applyProjectEvent(msg);
    if (!t || !["create", "update", "delete"].includes(msg.action)) return;
    // A project not listed yet (joined between the two listings): list the projects.
    if (t.project != null && !projects.has(t.project)) listProjectsSoon();
    // Someone the members list does not have yet (they joined since it was listed).
    const list = t.project != null && members.get(t.project);
    if (list && [t.user, t.assignee].some((u) => u && !list.some((m) => m.id === u.id))) loadMembers(t.project);
    // What the change was, against the last the stream showed (this tab's own answer
    // may already be in `tasks`).
    const before = seen.get(t.id);
    if (msg.action === "delete") seen.delete(t.id);
    else seen.set(t.id, t);
    const here = fromHere(msg);
    if (msg.action === "delete") {
      if (!here && rows.get(t.id)?.classList.contains("editing")) {
        listMessage(`${q(t.title)} was deleted elsewhere while you were editing it.`, 10000);
      }
      drop(t.id);
    } else {
      upsert(t);
    }
    // The counts: a create adds the task, a delete takes it away as it was; an update
    // moves them from what it was, when the page knows that (a task no page listed yet,
    // or listed already changed: the server counts again).
    if (msg.action === "create") countChange(null, t);
    else if (msg.action === "delete") countChange(t, null);
    else if (before && before.version < t.version) countChange(before, t);
    else recount();
    renderTask(t.id);
    addToFeed(msg, before, here);
    if (!here) flash(t.id);
  }

  // `reset`: the server no longer has the events after our `since`. Re-list; events that
  // arrive meanwhile are held and applied afterwards if the snapshot does not cover them.
  async function relist() {
    if (buffered || !access()) return;
    buffered = [];
    try {
      await loadProjects();
      await listView(true);
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
      listMessage("Could not reload your tasks; retrying…");
      buffered = null;
      setTimeout(relist, 2000);
      return;
    }
    const held = buffered;
    buffered = null;
    held.forEach(applyEvent);
  }

  function onMessage(ev) {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (msg.action === "reset") {
      lastEventId = Math.max(lastEventId, msg.event_id); // events continue after it
      relist();
    } else if (buffered) buffered.push(msg);
    else applyEvent(msg);
  }

  // No credential ever goes in the socket's URL (proxies log URLs): each (re)connect asks
  // for a single-use ticket, valid for 30 s, with the access token in a header, and opens
  // the socket with that.
  async function connect() {
    clearTimeout(retryTimer);
    if (!access()) return;
    if (!navigator.onLine) return setStatus("offline");
    if (socket) socket.close(1000); // its handlers are disowned by the new generation
    socket = null;
    const gen = ++socketGen;
    let ticket;
    try {
      const res = await api("POST", "/api/stream-tickets/");
      if (!res.ok) throw new Error(`stream ticket refused (${res.status})`);
      ticket = (await res.json()).ticket;
    } catch (err) {
      if (gen !== socketGen) return; // disconnected (or reconnected) meanwhile
      if (err instanceof AuthError) return loggedOut(err.message);
      setStatus(navigator.onLine ? "reconnecting" : "offline");
      return backOff();
    }
    if (gen !== socketGen || !access()) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/ws/tasks/?ticket=${encodeURIComponent(ticket)}&since=${lastEventId}`;
    let opened = false;
    socketToken = access(); // the session the ticket was minted with
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      if (gen !== socketGen) return;
      opened = true;
      backoff = BACKOFF_MIN;
      setStatus("connected");
      loadInvitations();
    });
    socket.addEventListener("message", (ev) => gen === socketGen && onMessage(ev));
    socket.addEventListener("close", (ev) => {
      if (gen !== socketGen) return;
      socket = null;
      onClose(ev.code, opened);
    });
  }

  function disconnect() {
    socketGen++;
    clearTimeout(retryTimer);
    if (socket) socket.close(1000);
    socket = null;
  }

  function later(ms) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, ms);
  }

  // Exponential backoff with jitter: wait between half and all of the current step.
  function backOff() {
    const step = Math.min(backoff, BACKOFF_MAX);
    backoff = Math.min(backoff * 2, BACKOFF_MAX);
    later(step / 2 + Math.random() * (step / 2));
  }

  async function onClose(code, opened) {
    setStatus(navigator.onLine ? "reconnecting" : "offline");
    // Our own password change or deletion closes the socket too: its answer, not the
    // close, decides what the page says. If it ended the session, there is nothing to do.
    if (ending) {
      await ending.catch(() => {});
      if (!access()) return;
    }
    try {
      if (code === 4001) {
        // The access token expired: get a new one (unless another tab already did), then resume.
        if (access() === socketToken) await refreshTokens();
        return connect();
      }
      if (code === 4008) return connect(); // we fell behind: resume right away
      if (code === 4003 || !opened) {
        // 4003: access was revoked (the password changed elsewhere, the account deleted).
        // Or the upgrade itself failed, and a browser never tells us why (a 401 looks
        // like any other 1006). Ask the API: its 401 handling refreshes the token if it
        // can and logs out if it cannot; if the API still answers, back off and retry.
        await api("GET", "/api/users/me/");
      }
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
      // Network trouble (server down?): fall through to the backoff.
    }
    backOff();
  }

  // ---- actions on tasks -------------------------------------------------------------------
  async function toggle(id, box) {
    const want = box.checked;
    const what = want ? "done" : "open";
    box.disabled = true;
    rowError(id, "");
    try {
      const { res, data } = await write(id, null, "PATCH", `/api/tasks/${id}/`, { completed: want });
      if (res.ok) upsert(data);
      else if (res.status === 404) {
        drop(id);
        listMessage("That task was deleted elsewhere.", 10000);
      } else rowError(id, `Could not mark it ${what}: ${reason(res, data)}`);
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
      rowError(id, `Could not mark it ${what}: the server did not answer. It is as before.`);
    } finally {
      box.disabled = false;
      box.checked = Boolean(tasks.get(id)?.completed); // the task's real state
      renderTask(id);
    }
  }

  async function remove(id, btn) {
    btn.disabled = true;
    rowError(id, "");
    try {
      const { res, data } = await write(id, null, "DELETE", `/api/tasks/${id}/`);
      if (res.status === 204 || res.status === 404) drop(id);
      else rowError(id, `Could not delete it: ${reason(res, data)}`);
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
      rowError(id, "Could not delete it: the server did not answer.");
    } finally {
      btn.disabled = false;
      renderTask(id);
    }
  }

  // Inline editing: the row's title and description become a small form. Saving sends
  // `If-Match` with the version the edit started from, so a change made elsewhere
  // meanwhile is never overwritten unseen.
  function startEdit(id) {
    const li = rows.get(id);
    const t = tasks.get(id);
    if (!li || !t || li.classList.contains("editing")) return;
    const base = `task-${id}-edit`;
    const form = el("form", "task-edit-form", { noValidate: true });
    form.dataset.version = String(t.version);
    const field = (label, input, name) => {
      input.id = `${base}-${name}`;
      input.name = name;
      const err = el("p", "error", { id: `${input.id}-error` });
      err.dataset.field = name;
      input.setAttribute("aria-describedby", err.id);
      const div = el("div", "field");
      div.append(el("label", "", { htmlFor: input.id, textContent: label }), input, err);
      return div;
    };
    const title = el("input", "edit-title", { value: t.title, maxLength: 255, autocomplete: "off", required: true });
    const desc = el("textarea", "edit-description", { value: t.description || "", rows: 3 });
    // The assignee (a member of the task's project; for a personal task, you) and the due
    // date, in local time (minutes: an unchanged one is not sent back, keeping its seconds).
    const assignee = el("select", "edit-assignee");
    assignee.dataset.initial = t.assignee ? String(t.assignee.id) : "";
    fillAssignee(assignee, t, assignee.dataset.initial);
    const due = el("input", "edit-due", { type: "datetime-local", value: localInput(t.due_at) });
    due.dataset.initial = due.value;
    const row = el("div", "edit-pair");
    row.append(field("Assignee", assignee, "assignee"), field("Due", due, "due_at"));
    const save = el("button", "btn btn-primary", { type: "submit", textContent: "Save" });
    const cancel = el("button", "btn btn-quiet", { type: "button", textContent: "Cancel" });
    const actions = el("div", "actions");
    actions.append(save, cancel);
    form.append(
      el("p", "error edit-error", { role: "alert" }),
      field("Title", title, "title"),
      field("Description", desc, "description"),
      row,
      actions,
    );
    form.addEventListener("submit", (ev) => saveEdit(ev, id));
    cancel.addEventListener("click", () => endEdit(id));
    form.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") {
        ev.preventDefault();
        endEdit(id);
      } else if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        form.requestSubmit();
      }
    });
    rowError(id, "");
    li.classList.add("editing");
    li.querySelector(".task-main").append(form);
    title.focus();
    title.select();
    if (t.project != null) loadMembers(t.project); // who may be assigned, as of now
  }

  // The assignee choices for task `t`: nobody, then its project's members (or, for a
  // personal task, its owner); `chosen` (a user id, or "") stays selected.
  function fillAssignee(select, t, chosen) {
    const people = t.project == null ? [t.user] : [...(members.get(t.project) || [])];
    if (t.assignee && !people.some((m) => m.id === t.assignee.id)) people.push(t.assignee);
    people.sort((a, b) => a.username.localeCompare(b.username));
    select.replaceChildren(
      el("option", "", { value: "", textContent: "Nobody" }),
      ...people.map((m) => el("option", "", { value: String(m.id), textContent: m.username })),
    );
    select.value = chosen;
  }

  // Members listed again: the open edit forms of that project's tasks offer them.
  function refillAssignees(pid) {
    for (const [id, li] of rows) {
      const t = tasks.get(id);
      const select = li.querySelector(".task-edit-form .edit-assignee");
      if (t && select && t.project === pid) fillAssignee(select, t, select.value);
    }
  }

  // An instant as a datetime-local input shows it (local time, to the minute), and back.
  function localInput(iso) {
    const d = iso ? new Date(iso) : null;
    if (!d || Number.isNaN(d.getTime())) return "";
    const two = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
  }

  function fromLocalInput(value) {
    const d = new Date(value);
    return value && !Number.isNaN(d.getTime()) ? d.toISOString() : value;
  }

  function endEdit(id) {
    const li = rows.get(id);
    if (!li) return;
    li.querySelector(".task-edit-form")?.remove();
    li.classList.remove("editing");
    li.querySelector(".task-edit").focus();
  }

  async function saveEdit(ev, id) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const top = form.querySelector(".edit-error");
    const button = form.querySelector("button[type=submit]");
    const body = { title: form.elements.title.value, description: form.elements.description.value };
    const { assignee, due_at } = form.elements;
    if (due_at.validity.badInput) {
      showFieldErrors(form, { due_at: ["Enter a whole date and time, or clear it."] }, top);
      return due_at.focus();
    }
    if (assignee.value !== assignee.dataset.initial) body.assignee = assignee.value === "" ? null : Number(assignee.value);
    if (due_at.value !== due_at.dataset.initial) body.due_at = due_at.value === "" ? null : fromLocalInput(due_at.value);
    button.disabled = true;
    top.textContent = "";
    try {
      const { res, data } = await write(id, null, "PATCH", `/api/tasks/${id}/`, body, {
        "If-Match": `"v${form.dataset.version}"`,
      });
      if (res.ok) {
        upsert(data);
        renderTask(id);
        endEdit(id);
      } else if (res.status === 400) {
        showFieldErrors(form, data, top);
        form.querySelector("[aria-invalid=true]")?.focus();
      } else if (res.status === 412) {
        // Changed elsewhere since the edit began: show what it is now, keep the edit, and
        // let a second Save overwrite it knowingly.
        showFieldErrors(form, {}, top);
        const now = await fetchTask(id);
        if (now) {
          form.dataset.version = String(now.version);
          upsert(now);
          renderTask(id);
        }
        top.textContent =
          `Not saved: this task changed elsewhere while you were editing it` +
          (now ? ` (it is now ${q(now.title)}).` : ".") +
          " Save again to replace that change with yours, or Cancel to keep it.";
      } else if (res.status === 404) {
        drop(id);
        renderTask(id);
        listMessage("That task was deleted elsewhere; your edit was not saved.", 10000);
      } else {
        top.textContent = `Not saved: ${reason(res, data)}`;
      }
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
      top.textContent = "Not saved: the server did not answer. Your edit is still here; try again.";
    } finally {
      button.disabled = false;
    }
  }

  async function fetchTask(id) {
    try {
      const res = await api("GET", `/api/tasks/${id}/`);
      return res.ok ? await res.json() : null;
    } catch {
      return null;
    }
  }

  // A DRF-shaped 400 body: each field's messages beside its field; `detail`,
  // `non_field_errors` and keys the form has no field for (if `top` is given) at the top.
  function showFieldErrors(form, body, top) {
    const fields = new Set();
    for (const p of form.querySelectorAll(".error[data-field]")) {
      fields.add(p.dataset.field);
      p.textContent = messages(body && body[p.dataset.field]);
      const input = form.querySelector(`[name="${p.dataset.field}"]`);
      input.setAttribute("aria-invalid", p.textContent ? "true" : "false");
    }
    if (!top) return;
    const rest = Object.entries(body || {})
      .filter(([key]) => !fields.has(key))
      .sort(([a], [b]) => (a === "detail" ? -1 : b === "detail" ? 1 : 0))
      .map(([, v]) => messages(v))
      .filter(Boolean);
    top.textContent = rest.join(" ");
  }

  async function addTask(ev) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const button = form.querySelector("button[type=submit]");
    const body = { title: $("#new-title").value };
    const description = $("#new-description").value;
    if (description.trim()) body.description = description;
    if (typeof view === "number") body.project = view; // created in the project shown
    button.disabled = true;
    $("#add-error").textContent = "";
    try {
      const { res, data } = await write(null, body.title.trim(), "POST", "/api/tasks/", body);
      if (res.status === 201) {
        showFieldErrors(form, {});
        form.reset();
        upsert(data);
        renderTask(data.id);
        $("#new-title").focus();
      } else if (res.status === 400) {
        showFieldErrors(form, data);
        if (data.detail) $("#add-error").textContent = data.detail;
      } else {
        $("#add-error").textContent = `Could not add the task: ${reason(res, data)}`;
      }
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
      $("#add-error").textContent = "Could not reach the server.";
    } finally {
      button.disabled = false;
    }
  }

  // ---- the account panel ------------------------------------------------------------------
  function showAccount(user) {
    me = { id: user.id, username: user.username };
    renderMembers();
    $("#account-email-current").textContent = user.email || "—";
    $("#password-form-username").value = user.username || "";
  }

  async function loadAccount() {
    try {
      const res = await api("GET", "/api/users/me/");
      if (res.ok) showAccount(await res.json());
    } catch {
      // Loading the tasks reports a dead session; the email just stays blank.
    }
  }

  // Back to the panel's first state: forms empty and closed, no messages.
  function resetAccount() {
    for (const form of $("#account").querySelectorAll("form")) {
      form.reset();
      showFieldErrors(form, {}, form.querySelector(":scope > .error[role=alert]"));
    }
    for (const d of $("#account").querySelectorAll("details")) d.open = false;
    $("#account-notice").textContent = "";
    $("#account-email-current").textContent = "";
    confirmDelete(false);
  }

  function confirmDelete(show) {
    $("#delete-form").hidden = !show;
    $("#delete-start").hidden = show;
    $("#delete-start").setAttribute("aria-expanded", String(show));
    if (show) {
      $("#delete-password").focus();
    } else {
      $("#delete-form").reset();
      showFieldErrors($("#delete-form"), {}, $("#delete-form-error"));
    }
  }

  // Sends one account form: `send` makes the request, `done` handles a success. A 400 is
  // shown beside the fields, anything else at the form's top.
  async function accountSubmit(ev, send, done) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const top = form.querySelector(":scope > .error[role=alert]");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    $("#account-notice").textContent = "";
    top.textContent = "";
    try {
      const res = await send();
      const data = await res.json().catch(() => ({}));
      if (res.ok) {
        showFieldErrors(form, {}, top);
        done(data);
      } else if (res.status === 400) {
        showFieldErrors(form, data, top);
        form.querySelector("[aria-invalid=true]")?.focus();
      } else if (data.code === "reauthentication_required") {
        // The last password login is too old for this change: ask for the password.
        top.textContent = "Enter your current password to confirm this change.";
        form.querySelector("input[type=password]")?.focus();
      } else {
        top.textContent = data.detail || `That did not work (${res.status}).`;
      }
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
      top.textContent = "Could not reach the server.";
    } finally {
      button.disabled = false;
    }
  }

  // A password change or deletion ends the session server-side (the socket closes too):
  // `ending` lets the socket's close handler wait for this answer.
  function endingSubmit(ev, send, done) {
    const run = accountSubmit(ev, send, done).finally(() => {
      if (ending === run) ending = null;
    });
    ending = run;
  }

  function changeEmail(ev) {
    accountSubmit(
      ev,
      () =>
        api("PATCH", "/api/users/me/", {
          email: $("#account-email").value.trim(),
          // Needed only when the last password login is old (`--reauth-after`).
          ...given("current_password", $("#email-current-password").value),
        }),
      (user) => {
        showAccount(user);
        $("#email-form").reset();
        $("#email-details").open = false;
        $("#account-notice").textContent = `Email changed to ${user.email}.`;
      },
    );
  }

  // A blank password is left out: the API then says "This field is required." rather
  // than check it (a wrong password counts as a failed login).
  const given = (name, value) => (value === "" ? {} : { [name]: value });

  function changePassword(ev) {
    endingSubmit(
      ev,
      () =>
        api("PATCH", "/api/users/me/", {
          ...given("current_password", $("#account-current-password").value),
          // Always sent, even blank: a PATCH without it would change nothing.
          password: $("#account-new-password").value,
        }),
      // Every token of the account has ended, this page's included.
      () => loggedOut("", "Password changed — log in again with the new password."),
    );
  }

  function deleteAccount(ev) {
    endingSubmit(
      ev,
      () => api("DELETE", "/api/users/me/", given("password", $("#delete-password").value)),
      () => {
        $("#username").value = "";
        loggedOut("", "Account deleted.");
      },
    );
  }

  // ---- projects ----------------------------------------------------------------------------
  const byName = (a, b) => a.name.localeCompare(b.name) || a.id - b.id;

  async function loadProjects() {
    const res = await api("GET", "/api/projects/");
    if (!res.ok) throw new Error(`listing projects failed (${res.status})`);
    const list = await res.json();
    const now = new Set(list.map((p) => p.id));
    for (const pid of [...projects.keys()]) if (!now.has(pid)) leaveProject(pid);
    for (const p of list) projects.set(p.id, p);
    rowGen++;
    renderProjects();
    render();
  }

  // The switcher's options (all, personal, then each project by name), and what depends
  // on the view: the list's title, where a new task goes, the members and invite form.
  function renderProjects() {
    if (typeof view === "number" && !projects.has(view)) view = "all";
    const select = $("#view");
    const options = [
      ["all", "All tasks"],
      ["none", "Personal tasks"],
      ...[...projects.values()].sort(byName).map((p) => [String(p.id), `${p.name} (${p.role})`]),
    ];
    const same =
      select.options.length === options.length &&
      options.every(([v, label], i) => select.options[i].value === v && select.options[i].textContent === label);
    if (!same) select.replaceChildren(...options.map(([value, textContent]) => el("option", "", { value, textContent })));
    select.value = String(view);

    const p = typeof view === "number" ? projects.get(view) : null;
    $("#list-title").textContent = p ? p.name : view === "none" ? "Personal tasks" : "All tasks";
    $("#add-where").textContent = p ? `in ${p.name}` : "(personal)";
    const canAdd = !p || atLeast(p.role, "editor");
    $("#add-form").hidden = !canAdd;
    $("#add-readonly").hidden = canAdd;
    $("#members-part").hidden = !p;
    $("#invite-form").hidden = !p || !atLeast(p.role, "admin");
    // Only the owner invites admins.
    const adminOption = $("#invite-role").querySelector("option[value=admin]");
    adminOption.hidden = adminOption.disabled = !p || p.role !== "owner";
    if ($("#invite-role").value === "admin" && adminOption.disabled) $("#invite-role").value = "editor";
    $("#my-role").textContent = p ? `(you: ${p.role})` : "";
    renderMembers();
  }

  // Shows view `v`: another view is listed from its first page, with its own counts.
  function setView(v) {
    rowGen++;
    if (v !== view) {
      view = v;
      $("#projects-error").textContent = "";
      showFieldErrors($("#invite-form"), {}, $("#invite-form-error"));
      renderProjects();
      listAgain();
    } else {
      renderProjects();
      render();
    }
    if (typeof view === "number") loadMembers(view);
  }

  // Lists project `pid`'s members (one listing at a time per project).
  function loadMembers(pid) {
    if (membersLoading.has(pid)) return membersLoading.get(pid);
    const run = (async () => {
      try {
        const res = await api("GET", `/api/projects/${pid}/members/`);
        if (res.ok && projects.has(pid)) members.set(pid, await res.json());
        else if (res.status === 404) return; // gone: its project_removed event follows
      } catch (err) {
        if (err instanceof AuthError) return loggedOut(err.message);
      }
      if (view === pid) renderMembers();
      refillAssignees(pid);
    })().finally(() => membersLoading.delete(pid));
    membersLoading.set(pid, run);
    return run;
  }

  function renderMembers() {
    const ul = $("#members");
    const list = typeof view === "number" ? members.get(view) : null;
    if (!list) return ul.replaceChildren();
    const items = [...list]
      .sort((a, b) => RANK[b.role] - RANK[a.role] || a.username.localeCompare(b.username))
      .map((m) => {
        const li = el("li", "member");
        li.dataset.userId = String(m.id);
        li.dataset.role = m.role;
        li.append(
          el("span", "member-name", { textContent: m.username + (me && m.id === me.id ? " (you)" : "") }),
          el("span", `role role-${m.role}`, { textContent: m.role }),
        );
        return li;
      });
    ul.replaceChildren(...items);
  }

  async function createProject(ev) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const top = $("#project-form-error");
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    top.textContent = "";
    $("#projects-notice").textContent = "";
    try {
      const res = await api("POST", "/api/projects/", { name: $("#project-name").value });
      const data = await res.json().catch(() => ({}));
      if (res.status === 201) {
        showFieldErrors(form, {}, top);
        form.reset();
        $("#project-details").open = false;
        projects.set(data.id, data);
        setView(data.id);
        $("#projects-notice").textContent = `Created ${q(data.name)}. Invite people to share it.`;
      } else if (res.status === 400) {
        showFieldErrors(form, data, top);
        form.querySelector("[aria-invalid=true]")?.focus();
      } else {
        top.textContent = `Could not create the project: ${reason(res, data)}`;
      }
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
      top.textContent = "Could not reach the server.";
    } finally {
      button.disabled = false;
    }
  }

  async function invite(ev) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const top = $("#invite-form-error");
    const button = form.querySelector("button[type=submit]");
    const pid = view;
    const body = { username: $("#invite-username").value.trim(), role: $("#invite-role").value };
    button.disabled = true;
    top.textContent = "";
    $("#projects-notice").textContent = "";
    try {
      const res = await api("POST", `/api/projects/${pid}/invitations/`, body);
      const data = await res.json().catch(() => ({}));
      if (res.status === 201) {
        showFieldErrors(form, {}, top);
        $("#invite-username").value = "";
        $("#projects-notice").textContent =
          `Invited ${data.invitee.username} to ${q(data.project.name)} as ${data.role}: ` +
          "they become a member when they accept.";
      } else if (res.status === 400) {
        showFieldErrors(form, data, top);
        form.querySelector("[aria-invalid=true]")?.focus();
      } else {
        top.textContent = `Not invited: ${reason(res, data)}`;
      }
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
      top.textContent = "Could not reach the server.";
    } finally {
      button.disabled = false;
    }
  }

  function resetProjectForms() {
    for (const form of [$("#project-form"), $("#invite-form")]) {
      form.reset();
      showFieldErrors(form, {}, form.querySelector(":scope > .error[role=alert]"));
    }
    $("#project-details").open = false;
    $("#projects-notice").textContent = "";
    $("#projects-error").textContent = "";
  }

  // ---- invitations addressed to you ----------------------------------------------------------
  // No event announces an invitation: they are listed on start, on every (re)connect, when
  // the tab comes back into view, and on demand.
  async function loadInvitations() {
    try {
      const res = await api("GET", "/api/invitations/");
      if (!res.ok) return;
      invitations = await res.json();
      renderInvitations();
    } catch (err) {
      if (err instanceof AuthError) loggedOut(err.message);
    }
  }

  function renderInvitations() {
    const items = invitations.map((inv) => {
      const li = el("li", "invitation");
      li.dataset.invitationId = String(inv.id);
      const text = el("p", "invitation-text");
      text.append(
        el("strong", "", { textContent: inv.project.name }),
        ` — ${inv.inviter.username} invites you as ${inv.role}`,
      );
      const accept = el("button", "btn btn-primary invitation-accept", { type: "button", textContent: "Accept" });
      const decline = el("button", "btn btn-quiet invitation-decline", { type: "button", textContent: "Decline" });
      accept.setAttribute("aria-label", `Accept the invitation to “${inv.project.name}”`);
      decline.setAttribute("aria-label", `Decline the invitation to “${inv.project.name}”`);
      accept.addEventListener("click", () => answerInvitation(inv, true, li));
      decline.addEventListener("click", () => answerInvitation(inv, false, li));
      const actions = el("div", "actions");
      actions.append(accept, decline);
      li.append(text, actions);
      return li;
    });
    $("#invitations").replaceChildren(...items);
    $("#invitations-part").hidden = items.length === 0;
  }

  async function answerInvitation(inv, yes, li) {
    for (const b of li.querySelectorAll("button")) b.disabled = true;
    $("#projects-notice").textContent = "";
    $("#projects-error").textContent = "";
    try {
      const res = yes
        ? await api("POST", `/api/invitations/${inv.id}/accept/`)
        : await api("DELETE", `/api/invitations/${inv.id}/`);
      const data = await res.json().catch(() => ({}));
      if (res.ok || res.status === 404) {
        invitations = invitations.filter((i) => i.id !== inv.id);
        renderInvitations();
      }
      if (yes && res.ok) {
        joinProject(data);
        setView(data.id);
        $("#projects-notice").textContent = `You joined ${q(data.name)} as ${data.role}.`;
      } else if (res.ok) {
        $("#projects-notice").textContent = `Declined the invitation to ${q(inv.project.name)}.`;
      } else if (res.status === 404) {
        $("#projects-error").textContent = `The invitation to ${q(inv.project.name)} has expired or was withdrawn.`;
      } else {
        $("#projects-error").textContent = reason(res, data);
      }
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
      $("#projects-error").textContent = "Could not reach the server.";
    } finally {
      for (const b of li.querySelectorAll("button")) b.disabled = false;
    }
  }

  // ---- getting in and out ---------------------------------------------------------------------
  function signedIn(username, tokens) {
    store.setItem(KEY.user, username);
    saveTokens(tokens.access, tokens.refresh);
    start();
  }

  async function logIn(ev) {
    ev.preventDefault();
    const button = ev.currentTarget.querySelector("button[type=submit]");
    const username = $("#username").value.trim();
    const err = $("#login-error");
    err.textContent = "";
    button.disabled = true;
    try {
      const res = await post("/api/token/", { username, password: $("#password").value });
      const data = await res.json().catch(() => ({}));
      if (res.ok) {
        $("#password").value = "";
        signedIn(username, data);
      } else if (data.detail) {
        err.textContent = data.detail;
      } else {
        const first = Object.values(data).flat()[0];
        err.textContent = first ? String(first) : `Login failed (${res.status}).`;
      }
    } catch {
      err.textContent = "Could not reach the server.";
    } finally {
      button.disabled = false;
    }
  }

  // Register, then log in with the same credentials: one step for the user.
  async function signUp(ev) {
    ev.preventDefault();
    const form = ev.currentTarget;
    const top = $("#signup-error");
    const button = form.querySelector("button[type=submit]");
    const body = {
      username: $("#signup-username").value.trim(),
      email: $("#signup-email").value.trim(),
      password: $("#signup-password").value,
    };
    top.textContent = "";
    button.disabled = true;
    try {
      const res = await post("/api/register/", body);
      const data = await res.json().catch(() => ({}));
      if (res.status === 201) {
        showFieldErrors(form, {}, top);
        form.reset();
        // The username as stored (NFKC-normalised).
        const username = data.username || body.username;
        const login = await post("/api/token/", { username, password: body.password });
        const tokens = await login.json().catch(() => ({}));
        if (login.ok) return signedIn(username, tokens);
        switchTo("login");
        $("#username").value = username;
        $("#login-notice").textContent = "Account created. Log in to start.";
        $("#login-error").textContent = tokens.detail || "";
        $("#password").focus();
      } else if (res.status === 400) {
        showFieldErrors(form, data, top);
        form.querySelector("[aria-invalid=true]")?.focus();
      } else if (data.code === "reauthentication_required") {
        // The last password login is too old for this change: ask for the password.
        top.textContent = "Enter your current password to confirm this change.";
        form.querySelector("input[type=password]")?.focus();
      } else {
        top.textContent = `Could not create the account: ${reason(res, data)}`;
      }
    } catch {
      top.textContent = "Could not reach the server.";
    } finally {
      button.disabled = false;
    }
  }

  async function logOut() {
    const refresh = store.getItem(KEY.refresh);
    loggedOut("");
    if (refresh) post("/api/token/revoke/", { refresh }).catch(() => {});
  }

  // Back to the login form: forget the tokens (in every tab), the socket and the list.
  // `message` is an error, `notice` news (password changed, account deleted).
  function loggedOut(message, notice = "", screen = "login") {
    disconnect();
    forgetTokens();
    tasks.clear();
    gone.clear();
    seen.clear();
    inFlight.clear();
    creating.clear();
    ownVersions.clear();
    projects.clear();
    members.clear();
    invitations = [];
    me = null;
    view = "all";
    lastEventId = 0;
    buffered = null;
    listGen++;
    listing = null;
    counts.open = counts.done = null;
    clearTimeout(countTimer);
    renderProjects();
    renderInvitations();
    resetProjectForms();
    render();
    clearFeed();
    listMessage("");
    setStatus("offline");
    showView(screen);
    $("#whoami").textContent = "";
    resetAccount();
    $("#login-error").textContent = message;
    $("#login-notice").textContent = notice;
    if (screen === "signup") $("#signup-username").focus();
    else ($("#username").value ? $("#password") : $("#username")).focus();
  }

  // Logged in: list the tasks, then stream the changes made after that snapshot.
  async function start() {
    if (!access()) return;
    showView("app");
    $("#whoami").textContent = store.getItem(KEY.user) || "";
    $("#login-notice").textContent = "";
    setStatus("reconnecting");
    loadAccount();
    try {
      // The projects and the first page at once (for all tasks, the projects only name
      // them): the first rows are on screen after one round trip.
      const listed = loadProjects();
      projectsLoading = listed.catch(() => {}).finally(() => (projectsLoading = null));
      if (view === "all") await Promise.all([listed, listView(true)]);
      else await listed.then(() => listView(true));
      if (typeof view === "number") loadMembers(view);
      connect();
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
      listMessage("Could not load your tasks; retrying…");
      backoff = Math.min(backoff * 2, BACKOFF_MAX);
      setTimeout(start, backoff);
    }
  }

  // Another tab logged in or out (or refreshed the tokens, which needs nothing here).
  window.addEventListener("storage", (ev) => {
    if (ev.storageArea !== store || (ev.key !== null && ev.key !== KEY.refresh)) return;
    const signed = Boolean(store.getItem(KEY.refresh));
    if (!signed && !$("#app-view").hidden) loggedOut("", "Your session ended in another tab.");
    else if (signed && $("#app-view").hidden) start();
  });

  $("#login-form").addEventListener("submit", logIn);
  $("#signup-form").addEventListener("submit", signUp);
  $("#show-signup").addEventListener("click", () => switchTo("signup"));
  $("#show-login").addEventListener("click", () => switchTo("login"));
  $("#add-form").addEventListener("submit", addTask);
  $("#more-button").addEventListener("click", loadMore);
  $("#logout").addEventListener("click", logOut);
  $("#email-form").addEventListener("submit", changeEmail);
  $("#password-form").addEventListener("submit", changePassword);
  $("#delete-form").addEventListener("submit", deleteAccount);
  $("#view").addEventListener("change", (ev) => {
    const v = ev.currentTarget.value;
    setView(v === "all" || v === "none" ? v : Number(v));
  });
  $("#project-form").addEventListener("submit", createProject);
  $("#invite-form").addEventListener("submit", invite);
  $("#invitations-refresh").addEventListener("click", loadInvitations);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && access() && !$("#app-view").hidden) loadInvitations();
  });
  $("#delete-start").addEventListener("click", () => confirmDelete(true));
  $("#delete-cancel").addEventListener("click", () => {
    confirmDelete(false);
    $("#delete-start").focus();
  });
  window.addEventListener("offline", () => {
    if (access()) setStatus("offline");
  });
  window.addEventListener("online", () => {
    if (access() && !socket) {
      backoff = BACKOFF_MIN;
      connect();
    }
  });

  if (access()) start();
  else loggedOut("", "", location.hash === "#signup" ? "signup" : "login");
})();
