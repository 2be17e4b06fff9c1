//! The authorisation matrix as data: every project-related route, and what each caller
//! gets from it. [`super`] runs every cell against a real server, and [`markdown`] renders
//! the same rows as the table in `docs/permissions.md`, so the docs cannot drift from
//! what is tested.
//!
//! A path or body names the fixture with placeholders, replaced per cell:
//! `{project}` (the fixture's project), `{task}` (a task in it, created by another
//! editor, `author`), `{inv}` (the pending invitation of `invited`), `{target}` (a viewer
//! member), `{admin2}` (a second admin), `{viewer}` (the viewer's id), `{me}` (the
//! caller's own id; a token's holder's) and `{own_task}` (a personal task the caller
//! creates just before the request).

/// Who calls. The six people are logged-in sessions; a token is a personal API token
/// carrying that one scope, held by [`Row::tokens`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    Owner,
    Admin,
    Editor,
    Viewer,
    /// Invited to the project (as a viewer) and not yet accepted.
    Invited,
    /// A user with no tie to the project.
    Stranger,
    Token(&'static str),
}

/// The columns, in order.
pub const CALLERS: [Caller; 11] = [
    Caller::Owner,
    Caller::Admin,
    Caller::Editor,
    Caller::Viewer,
    Caller::Invited,
    Caller::Stranger,
    Caller::Token("projects:read"),
    Caller::Token("projects:write"),
    Caller::Token("tasks:read"),
    Caller::Token("tasks:write"),
    Caller::Token("account:read"),
];

/// Whose API tokens a row's token columns use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// The project's owner: the scope is the only thing that can refuse.
    Owner,
    /// The invited user, for the routes of one's own invitations.
    Invited,
}

/// What a cell expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Exactly this status.
    Status(u16),
    /// 200, a list holding the row's item ([`Row::lists`]).
    Listed,
    /// 200, a list without the row's item: the caller cannot see it.
    Unlisted,
    /// 404, as for something that does not exist.
    NotFound,
    /// 403 with "This needs the {role} role or higher."
    NeedsRole(&'static str),
    /// 403 with "This API token lacks the {scope} scope."
    NeedsScope(&'static str),
}

/// The item a list row looks for in its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    Project,
    Task,
    Invitation,
}

pub struct Row {
    pub method: &'static str,
    pub path: &'static str,
    /// A JSON body with placeholders, if any.
    pub body: Option<&'static str>,
    /// What the request does, for the docs.
    pub does: &'static str,
    /// Each cell on a fixture of its own: the request changes what the next cell would
    /// meet (deletes, removals, transfers, accepted or withdrawn invitations).
    pub fresh: bool,
    pub tokens: Holder,
    /// For [`Expect::Listed`] and [`Expect::Unlisted`].
    pub lists: Option<Item>,
    /// One per [`CALLERS`] column.
    pub expect: [Expect; 11],
}

use Expect::*;

const S200: Expect = Status(200);
const S201: Expect = Status(201);
const S204: Expect = Status(204);
const S409: Expect = Status(409);
const N404: Expect = NotFound;
const EDITOR: Expect = NeedsRole("editor");
const ADMIN: Expect = NeedsRole("admin");
const OWNER: Expect = NeedsRole("owner");
const NO_PR: Expect = NeedsScope("projects:read");
const NO_PW: Expect = NeedsScope("projects:write");
const NO_TR: Expect = NeedsScope("tasks:read");
const NO_TW: Expect = NeedsScope("tasks:write");

/// A project read: projects:read or projects:write.
const fn pread(ok: Expect) -> [Expect; 5] {
    [ok, ok, NO_PR, NO_PR, NO_PR]
}
/// A project change: projects:write.
const fn pwrite(ok: Expect) -> [Expect; 5] {
    [NO_PW, ok, NO_PW, NO_PW, NO_PW]
}
/// A task read: tasks:read or tasks:write.
const fn tread(ok: Expect) -> [Expect; 5] {
    [NO_TR, NO_TR, ok, ok, NO_TR]
}
/// A task change: tasks:write.
const fn twrite(ok: Expect) -> [Expect; 5] {
    [NO_TW, NO_TW, NO_TW, ok, NO_TW]
}

/// The six people's cells, then the five tokens'.
const fn cells(people: [Expect; 6], tokens: [Expect; 5]) -> [Expect; 11] {
    let mut all = [N404; 11];
    let mut i = 0;
    while i < 6 {
        all[i] = people[i];
        i += 1;
    }
    while i < 11 {
        all[i] = tokens[i - 6];
        i += 1;
    }
    all
}

const fn row(method: &'static str, path: &'static str, does: &'static str) -> Row {
    Row {
        method,
        path,
        body: None,
        does,
        fresh: false,
        tokens: Holder::Owner,
        lists: None,
        expect: [N404; 11],
    }
}

impl Row {
    const fn body(mut self, body: &'static str) -> Row {
        self.body = Some(body);
        self
    }
    const fn fresh(mut self) -> Row {
        self.fresh = true;
        self
    }
    const fn tokens_of_invited(mut self) -> Row {
        self.tokens = Holder::Invited;
        self
    }
    const fn lists(mut self, item: Item) -> Row {
        self.lists = Some(item);
        self
    }
    const fn expect(mut self, people: [Expect; 6], tokens: [Expect; 5]) -> Row {
        self.expect = cells(people, tokens);
        self
    }
}

//                                  owner   admin   editor  viewer  invited stranger
pub const ROWS: &[Row] = &[
    // Projects.
    row("GET", "/api/projects/", "list your projects")
        .lists(Item::Project)
        .expect(
            [Listed, Listed, Listed, Listed, Unlisted, Unlisted],
            pread(Listed),
        ),
    row("POST", "/api/projects/", "create a project")
        .body(r#"{"name": "Another project"}"#)
        .expect([S201, S201, S201, S201, S201, S201], pwrite(S201)),
    row("GET", "/api/projects/{project}/", "read the project")
        .expect([S200, S200, S200, S200, N404, N404], pread(S200)),
    row("PATCH", "/api/projects/{project}/", "rename the project")
        .body(r#"{"name": "Renamed"}"#)
        .expect([S200, S200, ADMIN, ADMIN, N404, N404], pwrite(S200)),
    row("DELETE", "/api/projects/{project}/", "delete the project")
        .fresh()
        .expect([S204, OWNER, OWNER, OWNER, N404, N404], pwrite(S204)),
    row(
        "POST",
        "/api/projects/{project}/transfer/",
        "transfer the project to an admin",
    )
    .body(r#"{"user_id": {admin2}}"#)
    .fresh()
    .expect([S200, OWNER, OWNER, OWNER, N404, N404], pwrite(S200)),
    // Members.
    row(
        "GET",
        "/api/projects/{project}/members/",
        "list the members",
    )
    .expect([S200, S200, S200, S200, N404, N404], pread(S200)),
    row(
        "PATCH",
        "/api/projects/{project}/members/{target}/",
        "change a viewer's role to editor",
    )
    .body(r#"{"role": "editor"}"#)
    .fresh()
    .expect([S200, S200, ADMIN, ADMIN, N404, N404], pwrite(S200)),
    row(
        "PATCH",
        "/api/projects/{project}/members/{target}/",
        "make a viewer an admin",
    )
    .body(r#"{"role": "admin"}"#)
    .fresh()
    .expect([S200, OWNER, ADMIN, ADMIN, N404, N404], pwrite(S200)),
    row(
        "PATCH",
        "/api/projects/{project}/members/{admin2}/",
        "change an admin's role to editor",
    )
    .body(r#"{"role": "editor"}"#)
    .fresh()
    .expect([S200, OWNER, ADMIN, ADMIN, N404, N404], pwrite(S200)),
    row(
        "DELETE",
        "/api/projects/{project}/members/{target}/",
        "remove a viewer",
    )
    .fresh()
    .expect([S204, S204, ADMIN, ADMIN, N404, N404], pwrite(S204)),
    row(
        "DELETE",
        "/api/projects/{project}/members/{admin2}/",
        "remove an admin",
    )
    .fresh()
    .expect([S204, OWNER, ADMIN, ADMIN, N404, N404], pwrite(S204)),
    row(
        "DELETE",
        "/api/projects/{project}/members/{me}/",
        "leave (the owner transfers first: 409)",
    )
    .fresh()
    .expect([S409, S204, S204, S204, N404, N404], pwrite(S409)),
    // The project's invitations.
    row(
        "POST",
        "/api/projects/{project}/invitations/",
        "invite an editor or viewer",
    )
    .body(r#"{"username": "newcomer", "role": "editor"}"#)
    .fresh()
    .expect([S201, S201, ADMIN, ADMIN, N404, N404], pwrite(S201)),
    row(
        "POST",
        "/api/projects/{project}/invitations/",
        "invite an admin",
    )
    .body(r#"{"username": "newcomer", "role": "admin"}"#)
    .fresh()
    .expect([S201, OWNER, ADMIN, ADMIN, N404, N404], pwrite(S201)),
    row(
        "GET",
        "/api/projects/{project}/invitations/",
        "list the pending invitations",
    )
    .lists(Item::Invitation)
    .expect([Listed, Listed, ADMIN, ADMIN, N404, N404], pread(Listed)),
    row(
        "DELETE",
        "/api/projects/{project}/invitations/{inv}/",
        "withdraw an invitation",
    )
    .fresh()
    .expect([S204, S204, ADMIN, ADMIN, N404, N404], pwrite(S204)),
    // Your own invitations (the token columns are the invited user's tokens).
    row(
        "GET",
        "/api/invitations/",
        "list the invitations addressed to you",
    )
    .lists(Item::Invitation)
    .tokens_of_invited()
    .expect(
        [Unlisted, Unlisted, Unlisted, Unlisted, Listed, Unlisted],
        pread(Listed),
    ),
    row(
        "POST",
        "/api/invitations/{inv}/accept/",
        "accept the invitation",
    )
    .fresh()
    .tokens_of_invited()
    .expect([N404, N404, N404, N404, S200, N404], pwrite(S200)),
    row(
        "DELETE",
        "/api/invitations/{inv}/",
        "decline the invitation",
    )
    .fresh()
    .tokens_of_invited()
    .expect([N404, N404, N404, N404, S204, N404], pwrite(S204)),
    // The project's tasks.
    row(
        "GET",
        "/api/tasks/?project={project}",
        "list the project's tasks",
    )
    .lists(Item::Task)
    .expect(
        [Listed, Listed, Listed, Listed, Unlisted, Unlisted],
        tread(Listed),
    ),
    row("GET", "/api/tasks/{task}/", "read a task of the project")
        .expect([S200, S200, S200, S200, N404, N404], tread(S200)),
    row("POST", "/api/tasks/", "create a task in the project")
        .body(r#"{"title": "Made in the matrix", "project": {project}}"#)
        .expect([S201, S201, S201, EDITOR, N404, N404], twrite(S201)),
    row("PATCH", "/api/tasks/{task}/", "change a task")
        .body(r#"{"title": "Changed in the matrix"}"#)
        .expect([S200, S200, S200, EDITOR, N404, N404], twrite(S200)),
    row("PUT", "/api/tasks/{task}/", "replace a task")
        .body(r#"{"title": "Replaced in the matrix", "completed": true}"#)
        .expect([S200, S200, S200, EDITOR, N404, N404], twrite(S200)),
    row(
        "PATCH",
        "/api/tasks/{task}/",
        "assign a task and set its due date",
    )
    .body(r#"{"assignee": {viewer}, "due_at": "2030-01-02T03:04:05Z"}"#)
    .expect([S200, S200, S200, EDITOR, N404, N404], twrite(S200)),
    row("DELETE", "/api/tasks/{task}/", "delete a task")
        .fresh()
        .expect([S204, S204, S204, EDITOR, N404, N404], twrite(S204)),
    row(
        "PATCH",
        "/api/tasks/{own_task}/",
        "move your personal task into the project",
    )
    .body(r#"{"project": {project}}"#)
    .expect([S200, S200, S200, EDITOR, N404, N404], twrite(S200)),
    row(
        "PATCH",
        "/api/tasks/{task}/",
        "move a task out of the project",
    )
    .body(r#"{"project": null}"#)
    .fresh()
    .expect([S200, S200, S200, EDITOR, N404, N404], twrite(S200)),
];

/// A cell as the docs show it.
pub fn cell_text(e: Expect) -> String {
    match e {
        Status(code) => code.to_string(),
        Listed => "200".into(),
        Unlisted => "200, not listed".into(),
        NotFound => "404".into(),
        NeedsRole(role) => format!("403 {role}"),
        NeedsScope(_) => "403 scope".into(),
    }
}

/// The column headings.
pub fn heading(c: Caller) -> String {
    match c {
        Caller::Owner => "owner".into(),
        Caller::Admin => "admin".into(),
        Caller::Editor => "editor".into(),
        Caller::Viewer => "viewer".into(),
        Caller::Invited => "invited".into(),
        Caller::Stranger => "non-member".into(),
        Caller::Token(scope) => format!("`{scope}`"),
    }
}

/// The rows as a Markdown table.
pub fn markdown() -> String {
    let mut out = String::from("| Request | Does |");
    for c in CALLERS {
        out += &format!(" {} |", heading(c));
    }
    out += "\n|---|---|";
    for _ in CALLERS {
        out += "---|";
    }
    out += "\n";
    for r in ROWS {
        let mut does = r.does.to_owned();
        if let Some(body) = r.body {
            does += &format!(" `{body}`");
        }
        if r.tokens == Holder::Invited {
            does += " ¹";
        }
        out += &format!("| `{} {}` | {} |", r.method, r.path, does);
        for e in r.expect {
            out += &format!(" {} |", cell_text(e));
        }
        out += "\n";
    }
    out
}
