//! Tasks as the store takes and gives them. Every change writes its outbox event in the
//! same transaction and returns it, so the caller can publish exactly what was committed.

use async_trait::async_trait;

use super::keyset::Cursor;
use super::projects::Refusal;
use super::{Result, StoreError};
use crate::model::{Action, Event, Ordering, Role, Task, TaskUser, Timestamp, User, UserRef};

/// Where a task is, as one user stands there: what a [`TaskRule`] is asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// A personal task; `own` when the caller is its creator (else it is invisible).
    Personal { own: bool },
    /// A task of a project; the caller's role there, `None` for a non-member.
    Project(Option<Role>),
}

/// A task write's rule (the domain's `projects::task_rules`), asked inside the write's
/// transaction with the caller's standing where the task is (`from`) and where it will
/// be (`to`; the same place for a change that moves nothing, a create or a delete), and
/// whether the caller created the task. The store reads the caller's roles in that same
/// transaction, so a member removed or demoted by a write that committed first can never
/// write again.
pub type TaskRule = fn(from: Place, to: Place, creator: bool) -> std::result::Result<(), Refusal>;

/// A [`TaskRule`]'s refusal as the store answers it: a task the caller may not know of
/// is `NotFound`, as any other user's task.
pub(crate) fn task_refused(r: Refusal) -> StoreError {
    match r {
        Refusal::Missing(_) => StoreError::NotFound,
        r => StoreError::Refused(r),
    }
}

/// Who sees a task: its creator alone (a personal task), or every member of its project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Audience {
    Creator,
    Project(i64),
}

impl Audience {
    pub(crate) fn of(project: Option<i64>) -> Audience {
        project.map_or(Audience::Creator, Audience::Project)
    }
}

/// The event each user gets for a change, by user id: seen before and after, `update`;
/// only before, `delete`; only after, `create`. `before` is `None` for a create, `after`
/// for a delete; both lists are sorted.
pub(crate) fn fan_out(before: Option<&[i64]>, after: Option<&[i64]>) -> Vec<(i64, Action)> {
    let before = before.unwrap_or(&[]);
    let after = after.unwrap_or(&[]);
    let mut out = Vec::with_capacity(before.len().max(after.len()));
    let (mut i, mut j) = (0, 0);
    while i < before.len() || j < after.len() {
        match (before.get(i), after.get(j)) {
            (Some(&b), Some(&a)) if a == b => {
                out.push((a, Action::Update));
                i += 1;
                j += 1;
            }
            (Some(&b), Some(&a)) if b < a => {
                out.push((b, Action::Delete));
                i += 1;
            }
            (Some(&b), None) => {
                out.push((b, Action::Delete));
                i += 1;
            }
            (_, Some(&a)) => {
                out.push((a, Action::Create));
                j += 1;
            }
            (None, None) => break,
        }
    }
    out
}

/// The JSON of `task` as each user receives it: with the creator's email for the
/// creator, without it for everyone else (rendered once each).
pub(crate) struct TaskJson {
    creator: i64,
    own: String,
    others: Option<String>,
    task: Task,
}

impl TaskJson {
    pub(crate) fn new(task: &Task) -> Result<TaskJson> {
        let own = serde_json::to_string(task).map_err(json_error)?;
        Ok(TaskJson {
            creator: task.user.id,
            own,
            others: None,
            task: task.clone(),
        })
    }

    /// The task's JSON as `user` sees it.
    pub(crate) fn for_user(&mut self, user: i64) -> Result<&str> {
        if user == self.creator || self.task.user.email.is_none() {
            return Ok(&self.own);
        }
        if self.others.is_none() {
            let mut t = self.task.clone();
            t.user.email = None;
            self.others = Some(serde_json::to_string(&t).map_err(json_error)?);
        }
        Ok(self.others.as_deref().unwrap_or_default())
    }
}

/// A task as `viewer` sees it (the creator's email only for the creator).
pub(crate) fn seen_by(mut task: Task, viewer: i64) -> Task {
    task.user = task.user.seen_by(viewer);
    task
}

/// The JSON of a task's `user` as `viewer` sees its creator, for [`write_task`].
pub(crate) fn creator_json(viewer: &User, id: i64, username: &str) -> Result<Vec<u8>> {
    if viewer.id == id {
        return serde_json::to_vec(viewer).map_err(json_error);
    }
    serde_json::to_vec(&TaskUser {
        id,
        username: username.to_owned(),
        email: None,
    })
    .map_err(json_error)
}

/// A validated new task. The assignee is one the domain's rules allow; the store writes
/// its id.
#[derive(Clone, Debug, Default)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    pub due_at: Option<Timestamp>,
    pub assignee: Option<UserRef>,
    /// The project it is created in (`None`: a personal task), one the domain's rules
    /// allow.
    pub project: Option<i64>,
}

/// A validated change; `None` keeps the current value (`Some(None)` clears a nullable
/// field).
#[derive(Clone, Debug, Default)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
    pub due_at: Option<Option<Timestamp>>,
    pub assignee: Option<Option<UserRef>>,
    /// Moves the task into a project (`Some(Some(id))`) or out of one (`Some(None)`).
    pub project: Option<Option<i64>>,
}

impl TaskChanges {
    /// `task` with these changes applied (but not its `updated_at` or version).
    pub(crate) fn apply(self, task: &mut Task) {
        if let Some(title) = self.title {
            task.title = title;
        }
        if let Some(description) = self.description {
            task.description = description;
        }
        if let Some(completed) = self.completed {
            task.completed = completed;
        }
        if let Some(due_at) = self.due_at {
            task.due_at = due_at;
        }
        if let Some(assignee) = self.assignee {
            task.assignee = assignee;
        }
        if let Some(project) = self.project {
            task.project = project;
        }
    }
}

/// The list's filter on the assignee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssigneeFilter {
    /// Tasks assigned to this user.
    User(i64),
    /// Tasks assigned to nobody.
    Nobody,
}

/// The list's filter on the project.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProjectFilter {
    /// Tasks in this project.
    Project(i64),
    /// Personal tasks (in no project).
    Personal,
}

/// The `ORDER BY` of each order; every one ends with the id. Tasks without a due date
/// come last in both `due_at` orders (`due_at` is fixed-width UTC text, so it sorts as
/// the instant does).
pub(crate) fn order_by(ordering: Ordering) -> &'static str {
    match ordering {
        Ordering::Id => "id",
        Ordering::IdDesc => "id DESC",
        Ordering::CreatedAt => "created_at, id",
        Ordering::CreatedAtDesc => "created_at DESC, id DESC",
        Ordering::UpdatedAt => "updated_at, id",
        Ordering::UpdatedAtDesc => "updated_at DESC, id DESC",
        Ordering::Title => "title, id",
        Ordering::TitleDesc => "title DESC, id DESC",
        Ordering::DueAt => "due_at IS NULL, due_at, id",
        Ordering::DueAtDesc => "due_at IS NULL, due_at DESC, id DESC",
    }
}

/// Past this many projects, a member's list is read with one arm over all its sources
/// (every visible task read and sorted) instead of one arm per source: SQLite allows 500
/// terms in a compound query, and a statement per count of projects must stay few.
pub(crate) const MAX_MERGED_PROJECTS: usize = 200;

/// Filters and paging for the list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TaskQuery {
    pub completed: Option<bool>,
    /// Case-insensitive substring of title or description.
    pub search: Option<String>,
    pub assignee: Option<AssigneeFilter>,
    pub project: Option<ProjectFilter>,
    /// Only tasks due at or before this instant (in the API's timestamp format).
    pub due_before: Option<String>,
    /// Only tasks due at or after this instant (in the API's timestamp format).
    pub due_after: Option<String>,
    pub ordering: Ordering,
    pub limit: u32,
    /// Rows to skip (after `after`, when given): O(offset), walked row by row.
    pub offset: u64,
    /// Only tasks that sort after this one (a keyset page: O(page)).
    pub after: Option<Cursor>,
    /// Count a total no counter keeps (see [`counted_by_counters`]), up to
    /// [`TOTAL_BOUND`]; without it such a total is given only when it is free.
    pub count: bool,
}

/// A page of the list.
#[derive(Debug)]
pub struct TaskPage {
    /// The tasks, as a JSON array.
    pub json: Vec<u8>,
    /// How many tasks the page has.
    pub count: usize,
    /// How many tasks match in all: always for a list [`counted_by_counters`] and for
    /// one whose page holds every match, else only when [`TaskQuery::count`] asked.
    pub total: Option<u64>,
    /// `total` is [`TOTAL_BOUND`], and more match than that.
    pub total_capped: bool,
    /// Where the next page starts, when more tasks follow this one.
    pub next: Option<Cursor>,
    pub last_event_id: i64,
    /// The owner's list version as of the page (see [`TaskStore::event_seq`]).
    pub list_version: i64,
}

/// How far a filtered list is counted: a total above it is answered as this bound,
/// marked as capped (counting every match would cost what the whole list costs).
pub const TOTAL_BOUND: u64 = 10_000;

/// Whether `q`'s total is kept by `task_counts` (no filters but `completed` and
/// `project`), a sum of a few rows; any other filter is counted, up to [`TOTAL_BOUND`],
/// when [`TaskQuery::count`] asks (counting costs what the matches cost, not the page).
pub(crate) fn counted_by_counters(q: &TaskQuery) -> bool {
    q.search.is_none() && q.assignee.is_none() && q.due_before.is_none() && q.due_after.is_none()
}

/// The total of a list [`counted_by_counters`], from `task_counts` (see the migration
/// that made it): the owner's personal row and the rows of their projects, or of the one
/// project asked for when they belong to it; `user` and `project` are the placeholders
/// of the owner's id and that project's.
pub(crate) fn counters_sql(q: &TaskQuery, user: &str, project: &str) -> String {
    let column = match q.completed {
        None => "tasks",
        Some(true) => "done",
        Some(false) => "tasks - done",
    };
    let rows = match q.project {
        None => format!(
            "(user_id = {user} AND project_id = 0) OR (user_id = 0 AND project_id IN \
             (SELECT project_id FROM project_members WHERE user_id = {user}))"
        ),
        Some(ProjectFilter::Personal) => format!("user_id = {user} AND project_id = 0"),
        Some(ProjectFilter::Project(_)) => format!(
            "user_id = 0 AND project_id = {project} AND EXISTS (SELECT 1 FROM \
             project_members WHERE project_id = {project} AND user_id = {user})"
        ),
    };
    format!("SELECT CAST(COALESCE(SUM({column}), 0) AS BIGINT) FROM task_counts WHERE {rows}")
}

/// The count of the tasks `filter` keeps, up to one more than [`TOTAL_BOUND`].
pub(crate) fn bounded_count_sql(filter: &str) -> String {
    format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM tasks WHERE {filter} LIMIT {}) AS matching",
        TOTAL_BOUND + 1
    )
}

/// A counted total as answered: at most [`TOTAL_BOUND`], and whether it was capped.
pub(crate) fn capped(n: i64) -> (u64, bool) {
    let n = u64::try_from(n).unwrap_or(0);
    (n.min(TOTAL_BOUND), n > TOTAL_BOUND)
}

/// An `If-Match` condition: any current version (`*`), or one of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    Versions(Vec<i64>),
}

/// `Stale` (carrying the version seen) unless `task` meets the `If-Match` condition.
pub(crate) fn check_if_match(task: &Task, if_match: Option<&IfMatch>) -> Result<()> {
    match if_match {
        Some(IfMatch::Versions(v)) if !v.contains(&task.version) => Err(StoreError::Stale {
            current: task.version,
        }),
        _ => Ok(()),
    }
}

/// One task row's columns, borrowed from a driver's row, for [`write_task`].
pub(crate) struct TaskRow<'a> {
    pub id: i64,
    pub title: &'a str,
    pub description: Option<&'a str>,
    pub completed: bool,
    pub created_at: &'a str,
    pub updated_at: &'a str,
    pub version: i64,
    pub project: Option<i64>,
    /// The assignee's id and username (`None` when there is none).
    pub assignee: Option<(i64, &'a str)>,
    pub due_at: Option<&'a str>,
}

fn json_error(e: serde_json::Error) -> StoreError {
    StoreError::Other(format!("json: {e}"))
}

/// Appends one task as JSON in `Task`'s key order: byte for byte what serialising the
/// `Task` would give, written straight from the row (the list is the hottest read). Both
/// backends render their lists with it, so their bytes are the same.
pub(crate) fn write_task(out: &mut Vec<u8>, t: &TaskRow, user_json: &[u8]) -> Result<()> {
    use std::io::Write;
    let io = |e: std::io::Error| StoreError::Other(e.to_string());
    write!(out, r#"{{"id":{},"title":"#, t.id).map_err(io)?;
    serde_json::to_writer(&mut *out, t.title).map_err(json_error)?;
    out.extend_from_slice(br#","description":"#);
    match t.description {
        Some(d) => serde_json::to_writer(&mut *out, d).map_err(json_error)?,
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(if t.completed {
        br#","completed":true,"created_at":"#
    } else {
        br#","completed":false,"created_at":"#
    });
    serde_json::to_writer(&mut *out, t.created_at).map_err(json_error)?;
    out.extend_from_slice(br#","updated_at":"#);
    serde_json::to_writer(&mut *out, t.updated_at).map_err(json_error)?;
    out.extend_from_slice(br#","user":"#);
    out.extend_from_slice(user_json);
    write!(out, r#","version":{}"#, t.version).map_err(io)?;
    match t.project {
        Some(p) => write!(out, r#","project":{p}"#).map_err(io)?,
        None => out.extend_from_slice(br#","project":null"#),
    }
    out.extend_from_slice(br#","assignee":"#);
    match t.assignee {
        Some((id, username)) => {
            write!(out, r#"{{"id":{id},"username":"#).map_err(io)?;
            serde_json::to_writer(&mut *out, username).map_err(json_error)?;
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(br#","due_at":"#);
    match t.due_at {
        Some(d) => serde_json::to_writer(&mut *out, d).map_err(json_error)?,
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    Ok(())
}

/// `%`, `_` and `\` in a search term are literal.
pub(crate) fn like_pattern(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The columns a task row is read from, in this order (both backends), from `tasks` (not
/// aliased): the assignee's username comes from a point read of `users` (`NULL` for none,
/// or for a deleted account); then the project id (`NULL` for a personal task) and the
/// creator's id.
pub(crate) const TASK_COLUMNS: &str = "id, title, description, completed, created_at, \
     updated_at, version, due_at, assignee_id, (SELECT a.username FROM users a \
     WHERE a.id = tasks.assignee_id AND a.deleted_at IS NULL), project_id, user_id";

/// [`TASK_COLUMNS`] and the creator's username and email (12 and 13), for reading one
/// whole [`Task`].
pub(crate) const TASK_WITH_CREATOR: &str = "id, title, description, completed, created_at, \
     updated_at, version, due_at, assignee_id, (SELECT a.username FROM users a \
     WHERE a.id = tasks.assignee_id AND a.deleted_at IS NULL), project_id, user_id, \
     (SELECT c.username FROM users c WHERE c.id = tasks.user_id), \
     (SELECT c.email FROM users c WHERE c.id = tasks.user_id)";

/// The assignee of a row read with [`TASK_COLUMNS`]: its id and username, or `None`.
pub(crate) fn assignee_of(id: Option<i64>, username: Option<String>) -> Option<UserRef> {
    Some(UserRef {
        id: id?,
        username: username?,
    })
}

/// Tasks: the list of what a user can see, and each change with its outbox events.
///
/// A user sees their personal tasks and every task of every project they belong to. A
/// task's `user` is its creator, shown with the email only to the creator themself. A
/// change writes, in its transaction, one event for every user who saw the task before
/// or sees it after (the creator of a personal task; every member of a project), each
/// under that user's own next event id and with the task as they see it: `update` to
/// those who see it before and after, `delete` to those who no longer do, `create` to
/// those who newly do.
#[async_trait]
pub trait TaskStore: Send + Sync {
    /// One page of the tasks `owner` can see as a JSON array, how many match in all, and
    /// the owner's last event id, all from one snapshot: a stream resumed from that id
    /// misses nothing the page does not show. The search is SQLite's `LIKE` on both
    /// backends (ASCII letters fold, `%`, `_` and `\` in the term are literal, a missing
    /// description is searched as empty), and the bytes are the same on both.
    async fn list_tasks(&self, owner: User, q: TaskQuery) -> Result<TaskPage>;

    /// The user's list version: their last event id plus their `list_epoch` (moved when
    /// a co-member's username changes). Both only grow and both move in the transaction
    /// of the change, so an unchanged value means an unchanged task list. A point read.
    async fn event_seq(&self, user_id: i64) -> Result<i64>;

    /// Task `id` as `caller` sees it: their personal task, or a task of a project they
    /// belong to (`NotFound` otherwise).
    async fn get_task(&self, caller: User, id: i64) -> Result<Task>;

    /// Creates a task by `caller` and its events. In a project, `rule` is asked with the
    /// caller's role there, read in the write's transaction.
    async fn create_task(
        &self,
        caller: User,
        new: NewTask,
        rule: TaskRule,
    ) -> Result<(Task, Vec<Event>)>;

    /// Applies `changes` to task `id` (one `caller` sees, `NotFound` otherwise) if `rule`
    /// allows it, with the caller's standing read in the write's transaction;
    /// `updated_at` moves even when nothing else does (as the original's empty PATCH did).
    /// With `if_match`, only if the task is still at that version (else `Stale`).
    async fn update_task(
        &self,
        caller: User,
        id: i64,
        changes: TaskChanges,
        if_match: Option<IfMatch>,
        rule: TaskRule,
    ) -> Result<(Task, Vec<Event>)>;

    /// Deletes task `id` if `rule` allows it; the events carry the task as it was. With
    /// `if_match`, only if the task is still at that version (else `Stale`).
    async fn delete_task(
        &self,
        caller: User,
        id: i64,
        if_match: Option<IfMatch>,
        rule: TaskRule,
    ) -> Result<Vec<Event>>;
}

/// Every shape of the list, for the plan tests of both backends: each ordering with no
/// filter, `completed`, a project, personal tasks, an assignee, a due range, a search
/// and `completed` in a project, each from the start and after a cursor.
#[cfg(test)]
pub(crate) fn list_shapes() -> Vec<TaskQuery> {
    use crate::model::Ordering;
    use crate::store::keyset::Cursor;
    const ORDERINGS: [Ordering; 10] = [
        Ordering::Id,
        Ordering::IdDesc,
        Ordering::CreatedAt,
        Ordering::CreatedAtDesc,
        Ordering::UpdatedAt,
        Ordering::UpdatedAtDesc,
        Ordering::Title,
        Ordering::TitleDesc,
        Ordering::DueAt,
        Ordering::DueAtDesc,
    ];
    let mut shapes = Vec::new();
    for ordering in ORDERINGS {
        for f in 0..8 {
            let mut q = TaskQuery {
                ordering,
                limit: 50,
                ..TaskQuery::default()
            };
            match f {
                1 => q.completed = Some(false),
                2 => q.project = Some(ProjectFilter::Project(3)),
                3 => q.project = Some(ProjectFilter::Personal),
                4 => q.assignee = Some(AssigneeFilter::User(1)),
                5 => {
                    q.due_before = Some("2027-01-01T00:00:00.000000Z".into());
                    q.due_after = Some("2026-06-01T00:00:00.000000Z".into());
                }
                6 => q.search = Some("zzq".into()),
                7 => {
                    q.completed = Some(false);
                    q.project = Some(ProjectFilter::Project(3));
                }
                _ => {}
            }
            shapes.push(q.clone());
            q.after = Some(Cursor {
                ordering,
                key: Some("2026-01-01T00:00:00.000000Z".into()),
                id: 7,
            });
            if matches!(ordering, Ordering::Id | Ordering::IdDesc) {
                q.after.as_mut().unwrap().key = None;
            }
            shapes.push(q);
        }
    }
    shapes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::User;

    #[test]
    fn a_written_row_is_the_serialised_task() {
        let task = Task {
            id: 7,
            title: "Quotes \" and \\ back\nslash \u{1F600}".into(),
            description: Some("Ünïcödé ✓ <tags> & \t tab".into()),
            completed: true,
            created_at: "2026-11-25T11:42:56.437485Z".into(),
            updated_at: "2026-11-25T11:42:57.000001Z".into(),
            user: User {
                id: 3,
                username: "al\"ice".into(),
                email: "a@example.com".into(),
            }
            .into(),
            version: 4,
            project: None,
            assignee: Some(UserRef {
                id: 9,
                username: "b\"ob".into(),
            }),
            due_at: Some("2026-12-01T00:00:00.000000Z".into()),
        };
        let bare = Task {
            description: None,
            assignee: None,
            due_at: None,
            project: Some(5),
            ..task.clone()
        };
        for task in [task, bare] {
            let mut out = Vec::new();
            let row = TaskRow {
                id: task.id,
                title: &task.title,
                description: task.description.as_deref(),
                completed: task.completed,
                created_at: &task.created_at,
                updated_at: &task.updated_at,
                version: task.version,
                project: task.project,
                assignee: task.assignee.as_ref().map(|a| (a.id, a.username.as_str())),
                due_at: task.due_at.as_deref(),
            };
            let user_json = serde_json::to_vec(&task.user).unwrap();
            write_task(&mut out, &row, &user_json).unwrap();
            assert_eq!(out, serde_json::to_vec(&task).unwrap());
        }
    }

    #[test]
    fn a_move_deletes_for_those_who_lose_sight_and_creates_for_those_who_gain_it() {
        use Action::*;
        assert_eq!(
            fan_out(Some(&[1, 3, 5]), Some(&[2, 3, 6])),
            [
                (1, Delete),
                (2, Create),
                (3, Update),
                (5, Delete),
                (6, Create)
            ]
        );
        assert_eq!(fan_out(None, Some(&[4, 7])), [(4, Create), (7, Create)]);
        assert_eq!(fan_out(Some(&[4, 7]), None), [(4, Delete), (7, Delete)]);
        assert_eq!(fan_out(Some(&[2]), Some(&[2])), [(2, Update)]);
    }

    #[test]
    fn like_patterns_make_wildcards_literal() {
        assert_eq!(like_pattern(r"50%_a\b"), r"%50\%\_a\\b%");
    }
}
