// tasklane live page: log in, list your tasks, and keep the list in sync through the
// WebSocket stream. No dependencies; task data is only ever written with textContent.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, className, props) => Object.assign(document.createElement(tag), { className }, props);
  const KEY = { access: "tasklane.access", refresh: "tasklane.refresh", user: "tasklane.username" };
  const BACKOFF_MIN = 500;
  const BACKOFF_MAX = 30000;

  // ---- state --------------------------------------------------------------------------
  const tasks = new Map(); // id -> task, the list as we believe the server has it
  const rows = new Map(); // id -> <li>
  const gone = new Set(); // ids deleted: never brought back by a late upsert
  let lastEventId = 0; // highest event applied (or covered by a snapshot): resume point
  let buffered = null; // events received while a re-list is in flight, else null
  let socket = null;
  let socketGen = 0; // bumped to disown a socket we no longer want to hear from
  let backoff = BACKOFF_MIN;
  let retryTimer = 0;
  let refreshing = null; // the one token refresh in flight, shared by every caller
  let ending = null; // a password change or account deletion in flight (it may end the session)

  const timeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  // ---- tokens ---------------------------------------------------------------------------
  const access = () => sessionStorage.getItem(KEY.access);

  function saveTokens(a, r) {
    sessionStorage.setItem(KEY.access, a);
    sessionStorage.setItem(KEY.refresh, r);
  }

  class AuthError extends Error {}

  // An unauthenticated JSON POST (log in, refresh, revoke).
  const post = (path, body) =>
    fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
    });

  // Only one refresh may be in flight: refresh tokens rotate, so two concurrent refreshes
  // with the same token would spend it twice. Everyone who needs a fresh token awaits the
  // same promise.
  function refreshTokens() {
    if (!refreshing) {
      refreshing = (async () => {
        const refresh = sessionStorage.getItem(KEY.refresh);
        if (!refresh) throw new AuthError("Please log in.");
        const res = await post("/api/token/refresh/", { refresh });
        if (res.status === 401 || res.status === 400) {
          throw new AuthError("Your session has ended. Please log in again.");
        }
        if (!res.ok) throw new Error(`token refresh failed (${res.status})`);
        const body = await res.json();
        // Logged out meanwhile: don't bring the session back.
        if (sessionStorage.getItem(KEY.refresh) !== refresh) throw new AuthError("");
        saveTokens(body.access, body.refresh); // always keep the new refresh: the old is spent
      })().finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  // An API call with the access token; on a 401 refresh once and retry once.
  async function api(method, path, body) {
    for (let attempt = 0; ; attempt++) {
      const token = access();
      const res = await fetch(path, {
        method,
        headers: {
          Accept: "application/json",
          Authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
      if (res.status !== 401) return res;
      if (attempt > 0) throw new AuthError("Your session has ended. Please log in again.");
      // If another call refreshed while this one was out, just retry with the new token.
      if (access() === token) await refreshTokens();
    }
  }

  // ---- rendering --------------------------------------------------------------------------
  function setStatus(state) {
    const pill = $("#status");
    pill.dataset.state = state;
    pill.textContent = { connected: "connected", reconnecting: "reconnecting…", offline: "offline" }[state];
  }

  function newest(a, b) {
    if (a.created_at !== b.created_at) return a.created_at < b.created_at ? 1 : -1;
    return b.id - a.id;
  }

  function makeRow(id) {
    const li = el("li", "task");
    li.dataset.taskId = String(id);
    const box = el("input", "task-toggle", { type: "checkbox", id: `task-${id}-done` });
    box.addEventListener("change", () => toggle(id, box));
    const main = el("div", "task-main");
    main.append(el("label", "task-title", { htmlFor: box.id }), el("p", "task-description"), el("p", "task-meta"));
    const del = el("button", "btn btn-quiet task-delete", { type: "button", textContent: "Delete" });
    del.addEventListener("click", () => remove(id, del));
    li.append(box, main, del);
    return li;
  }

  function fillRow(li, t) {
    li.classList.toggle("done", t.completed);
    const box = li.querySelector(".task-toggle");
    if (!box.disabled) box.checked = t.completed; // a click in flight keeps its tick
    li.querySelector(".task-title").textContent = t.title;
    li.querySelector(".task-delete").setAttribute("aria-label", `Delete “${t.title}”`);
    const desc = li.querySelector(".task-description");
    desc.textContent = t.description || "";
    desc.hidden = !t.description;
    const meta = li.querySelector(".task-meta");
    const when = el("time", "", { dateTime: t.updated_at });
    const d = new Date(t.updated_at);
    when.textContent = Number.isNaN(d.getTime()) ? t.updated_at : timeFmt.format(d);
    meta.replaceChildren(t.completed ? "Done · updated " : "Open · updated ", when);
  }

  // Brings the DOM in line with `tasks`, reusing rows and moving only those out of place
  // (moving a focused node would lose keyboard focus).
  function render() {
    const ul = $("#tasks");
    const sorted = [...tasks.values()].sort(newest);
    for (const [id, li] of rows) {
      if (!tasks.has(id)) {
        li.remove();
        rows.delete(id);
      }
    }
    sorted.forEach((t, i) => {
      let li = rows.get(t.id);
      if (!li) rows.set(t.id, (li = makeRow(t.id)));
      fillRow(li, t);
      if (ul.children[i] !== li) ul.insertBefore(li, ul.children[i] || null);
    });
    $("#empty").hidden = sorted.length > 0;
    $("#count").textContent = sorted.length ? `(${sorted.length})` : "";
  }

  // Upsert by id. `fromHttp`: a response may arrive after a newer event for the same
  // task, so it never overwrites a later version. Events are applied in commit order.
  function upsert(t, fromHttp) {
    if (gone.has(t.id)) return;
    const old = tasks.get(t.id);
    if (fromHttp && old && old.updated_at > t.updated_at) return;
    tasks.set(t.id, t);
  }

  function drop(id) {
    gone.add(id);
    tasks.delete(id);
  }

  // ---- the list and the stream ------------------------------------------------------------
  async function loadTasks() {
    const res = await api("GET", "/api/tasks/?limit=1000&ordering=-created_at");
    if (!res.ok) throw new Error(`listing tasks failed (${res.status})`);
    const list = await res.json();
    tasks.clear();
    for (const t of list) if (!gone.has(t.id)) tasks.set(t.id, t);
    // The snapshot already contains every change up to this event id.
    lastEventId = Number(res.headers.get("X-Last-Event-Id")) || 0;
    $("#list-error").textContent = "";
    render();
  }

  function applyEvent(msg) {
    if (msg.event_id <= lastEventId) return; // replayed, or covered by the snapshot
    lastEventId = msg.event_id;
    if (msg.action === "delete") drop(msg.task.id);
    else if (msg.action === "create" || msg.action === "update") upsert(msg.task, false);
    render();
  }

  // `reset`: the server no longer has the events after our `since`. Re-list; events that
  // arrive meanwhile are held and applied afterwards if the snapshot does not cover them.
  async function relist() {
    if (buffered || !access()) return;
    buffered = [];
    try {
      await loadTasks();
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
      $("#list-error").textContent = "Could not reload your tasks; retrying…";
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

  function connect() {
    clearTimeout(retryTimer);
    if (!access()) return;
    if (!navigator.onLine) return setStatus("offline");
    if (socket) socket.close(1000); // its handlers are disowned by the new generation
    const gen = ++socketGen;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/ws/tasks/?token=${encodeURIComponent(access())}&since=${lastEventId}`;
    let opened = false;
    socket = new WebSocket(url);
    socket.addEventListener("open", () => {
      if (gen !== socketGen) return;
      opened = true;
      backoff = BACKOFF_MIN;
      setStatus("connected");
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
        await refreshTokens(); // the access token expired: get a new one, then resume
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

  // ---- actions --------------------------------------------------------------------------
  async function toggle(id, box) {
    const want = box.checked;
    box.disabled = true;
    try {
      const res = await api("PATCH", `/api/tasks/${id}/`, { completed: want });
      if (res.ok) upsert(await res.json(), true);
      else if (res.status === 404) drop(id);
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
    } finally {
      box.disabled = false;
      render(); // on failure this puts the checkbox back to the task's real state
    }
  }

  async function remove(id, btn) {
    btn.disabled = true;
    try {
      const res = await api("DELETE", `/api/tasks/${id}/`);
      if (res.status === 204 || res.status === 404) drop(id);
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
    } finally {
      btn.disabled = false;
      render();
    }
  }

  const messages = (v) => (Array.isArray(v) ? v.join(" ") : typeof v === "string" ? v : "");

  // A DRF-shaped 400 body: each field's messages beside its field; `detail`,
  // `non_field_errors` and keys the form has no field for (if `top` is given) at the top.
  function showFieldErrors(form, body, top) {
    const shown = new Set();
    for (const p of form.querySelectorAll(".error[data-field]")) {
      shown.add(p.dataset.field);
      p.textContent = messages(body && body[p.dataset.field]);
      const input = form.querySelector(`[name="${p.dataset.field}"]`);
      input.setAttribute("aria-invalid", p.textContent ? "true" : "false");
    }
    if (!top) return;
    const rest = Object.entries(body || {})
      .filter(([key]) => !shown.has(key))
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
    button.disabled = true;
    $("#add-error").textContent = "";
    try {
      const res = await api("POST", "/api/tasks/", body);
      const data = await res.json().catch(() => ({}));
      if (res.status === 201) {
        showFieldErrors(form, {});
        form.reset();
        upsert(data, true);
        render();
        $("#new-title").focus();
      } else if (res.status === 400) {
        showFieldErrors(form, data);
        if (data.detail) $("#add-error").textContent = data.detail;
      } else {
        $("#add-error").textContent = data.detail || `Could not add the task (${res.status}).`;
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
      () => api("PATCH", "/api/users/me/", { email: $("#account-email").value.trim() }),
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
        saveTokens(data.access, data.refresh);
        sessionStorage.setItem(KEY.user, username);
        $("#password").value = "";
        start();
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

  async function logOut() {
    const refresh = sessionStorage.getItem(KEY.refresh);
    loggedOut("");
    if (refresh) post("/api/token/revoke/", { refresh }).catch(() => {});
  }

  // Back to the login form: forget the tokens, the socket and the list. `message` is an
  // error, `notice` news (password changed, account deleted).
  function loggedOut(message, notice = "") {
    disconnect();
    sessionStorage.clear();
    tasks.clear();
    gone.clear();
    lastEventId = 0;
    buffered = null;
    render();
    setStatus("offline");
    $("#app-view").hidden = true;
    $("#logout").hidden = true;
    $("#whoami").textContent = "";
    $("#login-view").hidden = false;
    resetAccount();
    $("#login-error").textContent = message;
    $("#login-notice").textContent = notice;
    ($("#username").value ? $("#password") : $("#username")).focus();
  }

  // Logged in: list the tasks, then stream the changes made after that snapshot.
  async function start() {
    if (!access()) return;
    $("#login-view").hidden = true;
    $("#app-view").hidden = false;
    $("#logout").hidden = false;
    $("#whoami").textContent = sessionStorage.getItem(KEY.user) || "";
    $("#login-notice").textContent = "";
    setStatus("reconnecting");
    loadAccount();
    try {
      await loadTasks();
      connect();
    } catch (err) {
      if (err instanceof AuthError) return loggedOut(err.message);
      $("#list-error").textContent = "Could not load your tasks; retrying…";
      backoff = Math.min(backoff * 2, BACKOFF_MAX);
      setTimeout(start, backoff);
    }
  }

  $("#login-form").addEventListener("submit", logIn);
  $("#add-form").addEventListener("submit", addTask);
  $("#logout").addEventListener("click", logOut);
  $("#email-form").addEventListener("submit", changeEmail);
  $("#password-form").addEventListener("submit", changePassword);
  $("#delete-form").addEventListener("submit", deleteAccount);
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
  else loggedOut("");
})();
