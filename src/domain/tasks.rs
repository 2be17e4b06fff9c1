//! The task operations, one function each: list, get, create (once per idempotency key,
//! when given one), change and delete. Each checks the request against the rules, writes
//! through the store and, once the write has committed, publishes its event to the hub:
//! the one place a task changes, so a rule about who may do what to a task lives here.
//!
//! The rules for a task's fields are the original serializer's: a title of 5 to 255
//! characters; a description that is blank or at least 10 characters (up to 10,000);
//! `completed`. Then the fields added since: `due_at`, a date-time (as DRF reads one,
//! kept in UTC with microseconds), and `assignee`: for a personal task only its owner
//! ([`check_assignee`]), for a project's task one of its members (`assignable` is the
//! one place that says who may be assigned). Both are nullable: `null` clears them.
//!
//! Every function takes the owner as a [`User`]: a task of another user is
//! [`DomainError::NotFound`], never a refusal, so nobody can tell it exists.
//!
//! A task may be created in a project (`project`), or moved into, out of or between
//! projects: who may is `projects::task_rules`, asked here with the caller's role as the
//! store reports it; a project task's assignee is one of its members.

use std::sync::Arc;
use std::time::Duration;

use super::listing::{ListPage, Listing};
use super::projects::task_rules::{self, Place};
use super::{Chars, DomainError, FieldErrors, check_chars, check_field};
use crate::clock::{now_secs_f64, parse_timestamp};
use crate::hub::Hub;
use crate::model::{Event, Member, Task, Timestamp, User, UserRef};
use crate::store::idempotency::{Key, Keyed};
use crate::store::projects::Refusal;
use crate::store::tasks::{IfMatch, NewTask, TaskChanges, TaskQuery};
use crate::store::{Store, StoreError};

/// The longest title and description, in characters (`import-django` holds the
/// original's rows to them too).
pub const TITLE_MAX: usize = 255;
pub const DESCRIPTION_MAX: usize = 10_000;

const TITLE: Chars = Chars::trimmed(TITLE_MAX);
const DESCRIPTION: Chars = Chars {
    allow_blank: true,
    trim: true,
    max_length: Some(DESCRIPTION_MAX),
};

/// What the task operations reach: the store they write through, the hub that hears of
/// every committed change, and the list's kept pages.
#[derive(Clone, Copy)]
pub struct TaskContext<'a> {
    pub store: &'a Store,
    pub hub: &'a Hub,
    pub listing: &'a Listing,
    /// How long an idempotency key holds its first response (`--idempotency-retention`).
    pub idempotency_retention: Duration,
}

/// A task's fields as given: `None` for a field that is absent (kept, on a change) or
/// was already refused (its message is in the errors handed over with it); `Some(None)`
/// for a nullable field given as `null`.
#[derive(Debug, Default, Clone)]
pub struct TaskDraft {
    pub title: Option<String>,
    pub description: Option<String>,
    pub completed: Option<bool>,
    /// The date-time as written; [`validate`] reads it.
    pub due_at: Option<Option<String>>,
    /// A user id.
    pub assignee: Option<Option<i64>>,
    /// A project id; `null` for a personal task.
    pub project: Option<Option<i64>>,
}

/// DRF's message for a date-time it cannot read.
pub const DATETIME_FORMAT: &str = "Datetime has wrong format. Use one of these formats \
     instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

/// The message for an assignee the task cannot have.
pub const ASSIGNEE_NOT_ALLOWED: &str = "A personal task can only be assigned to its owner.";

/// Who may be assigned to `owner`'s personal task: the owner, or nobody (its owner is
/// the only one who can see it). The user as the task shows them.
pub fn check_assignee(owner: &User, assignee: Option<i64>) -> Result<Option<UserRef>, String> {
    match assignee {
        None => Ok(None),
        Some(id) if id == owner.id => Ok(Some(UserRef::from(owner))),
        Some(_) => Err(ASSIGNEE_NOT_ALLOWED.into()),
    }
}

/// A date-time as the API reads one, in the API's timestamp format; DRF's message if it
/// is not one.
pub fn read_datetime(text: &str) -> Result<Timestamp, String> {
    parse_timestamp(text)
        .map(Timestamp)
        .ok_or_else(|| DATETIME_FORMAT.into())
}

/// An `Idempotency-Key` and the hash of the request it came with: a retry carries both
/// unchanged; the same key with another hash is [`DomainError::KeyReused`].
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_hash: String,
}

/// A task just created, or (for a repeated idempotency key) the first response's task.
#[derive(Debug)]
pub struct Created {
    pub task: Task,
    /// This is the stored answer to an earlier request with the same key: nothing was
    /// created this time.
    pub replayed: bool,
}

/// Checks a draft for `owner`'s task, with the messages `errors` already holds for it
/// (fields that could not be read); the result says which fields change.
pub fn validate(
    owner: &User,
    draft: TaskDraft,
    errors: FieldErrors,
) -> Result<TaskChanges, DomainError> {
    validate_in(owner, None, draft, errors)
}

/// [`validate`] for a task that will be in a project with these `members` (`None`: a
/// personal task), who are the ones it may be assigned to.
pub fn validate_in(
    owner: &User,
    members: Option<&[Member]>,
    draft: TaskDraft,
    mut errors: FieldErrors,
) -> Result<TaskChanges, DomainError> {
    let title = check_field(draft.title, "title", &mut errors, |s| {
        let s = check_chars(s, TITLE)?;
        if s.chars().count() < 5 {
            return Err("Title must be at least 5 characters long.".into());
        }
        Ok(s)
    });
    let description = check_field(draft.description, "description", &mut errors, |s| {
        let s = check_chars(s, DESCRIPTION)?;
        if !s.is_empty() && s.chars().count() < 10 {
            return Err("Description must be at least 10 characters long if provided.".into());
        }
        Ok(s)
    });
    let due_at = check_field(draft.due_at, "due_at", &mut errors, |d| {
        d.as_deref()
            .map(read_datetime)
            .transpose()
            .map(|d| d.map(|t| t.0))
    });
    let assignee = draft
        .assignee
        .and_then(|a| match assignable(owner, members, a) {
            Ok(a) => Some(a),
            Err(message) => {
                errors.add("assignee", message);
                None
            }
        });
    errors
        .ordered(&["title", "description", "completed", "assignee", "due_at"])
        .into_result()?;
    Ok(TaskChanges {
        title,
        description: description.map(Some),
        completed: draft.completed,
        due_at: due_at.map(|d| d.map(Timestamp)),
        assignee,
        project: draft.project,
    })
}

/// Who may be assigned: [`check_assignee`] for a personal task, a member for a
/// project's.
fn assignable(
    owner: &User,
    members: Option<&[Member]>,
    assignee: Option<i64>,
) -> Result<Option<UserRef>, String> {
    let (Some(members), Some(id)) = (members, assignee) else {
        return check_assignee(owner, assignee);
    };
    let member = members.iter().find(|m| m.id == id);
    task_rules::check_project_assignee(member.is_some())?;
    Ok(member.map(|m| UserRef {
        id: m.id,
        username: m.username.clone(),
    }))
}

/// `user`'s standing where a task is or would be: in `project`, their role there
/// (`None` for a non-member); a personal task (theirs: every task the store hands them
/// without a project is).
async fn place_of(
    ctx: &TaskContext<'_>,
    user: &User,
    project: Option<i64>,
) -> Result<Place, DomainError> {
    let Some(id) = project else {
        return Ok(Place::Personal { own: true });
    };
    match ctx.store.get_project(user.id, id).await {
        Ok(p) => Ok(Place::Project(Some(p.role))),
        Err(StoreError::NotFound | StoreError::Refused(Refusal::Missing(_))) => {
            Ok(Place::Project(None))
        }
        Err(e) => Err(e.into()),
    }
}

/// The members of `project` (seen by `user`, a member), or `None` for a personal task.
async fn members_of(
    ctx: &TaskContext<'_>,
    user: &User,
    project: Option<i64>,
) -> Result<Option<Vec<Member>>, DomainError> {
    match project {
        None => Ok(None),
        Some(id) => Ok(Some(ctx.store.list_members(user.id, id).await?)),
    }
}

/// The page `query` selects of `owner`'s tasks, as of now (served from the kept pages
/// while the owner's tasks have not changed).
pub async fn list(
    ctx: &TaskContext<'_>,
    owner: User,
    query: TaskQuery,
) -> Result<Arc<ListPage>, DomainError> {
    Ok(ctx.listing.page(ctx.store, owner, query).await?)
}

/// Task `id` as `owner` sees it: their personal task, or a task of a project they
/// belong to (the creator's email left out unless it is theirs).
pub async fn get(ctx: &TaskContext<'_>, owner: User, id: i64) -> Result<Task, DomainError> {
    Ok(ctx.store.get_task(owner, id).await?)
}

/// Publishes committed events, one per user they went to.
fn publish(ctx: &TaskContext<'_>, events: Vec<Event>) {
    for event in events {
        ctx.hub.publish(event);
    }
}

/// Creates a task for `owner` from a checked draft (`completed` defaults to `false`), and
/// publishes its events (one per member, in a project).
pub async fn create(
    ctx: &TaskContext<'_>,
    owner: User,
    draft: TaskDraft,
    errors: FieldErrors,
) -> Result<Created, DomainError> {
    let new = new_task(ctx, &owner, draft, errors).await?;
    let (task, events) = ctx
        .store
        .create_task(owner, new, task_rules::write_rule)
        .await?;
    publish(ctx, events);
    Ok(Created {
        task,
        replayed: false,
    })
}

/// [`create`], once per `key`: within the retention, a retry with the same key and
/// request gets the first response and creates nothing (and publishes nothing); the same
/// key with another request is [`DomainError::KeyReused`]. The key is checked, the task
/// created and its response kept in one transaction, so concurrent requests with one key
/// create one task.
pub async fn create_once(
    ctx: &TaskContext<'_>,
    owner: User,
    draft: TaskDraft,
    errors: FieldErrors,
    key: IdempotencyKey,
) -> Result<Created, DomainError> {
    let new = new_task(ctx, &owner, draft, errors).await?;
    if !key.key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(DomainError::Invalid(FieldErrors::one(
            "Idempotency-Key",
            "Use 1 to 255 visible ASCII characters.",
        )));
    }
    let now = now_secs_f64();
    let key = Key {
        key: key.key,
        request_hash: key.request_hash,
        now,
        expired_before: now - ctx.idempotency_retention.as_secs_f64(),
    };
    match ctx
        .store
        .create_task_once(owner, new, key, task_rules::write_rule)
        .await?
    {
        Keyed::Created(task, events) => {
            publish(ctx, events);
            Ok(Created {
                task: *task,
                replayed: false,
            })
        }
        Keyed::Replayed { body, .. } => {
            let task: Task =
                serde_json::from_str(&body).map_err(|e| DomainError::Internal(e.to_string()))?;
            Ok(Created {
                task,
                replayed: true,
            })
        }
        Keyed::Mismatch => Err(DomainError::KeyReused),
    }
}

/// Changes task `id` (one `owner` sees) by a checked draft (an absent field keeps its
/// value) if it is still at a version `if_match` names, and publishes its events: one to
/// every user who sees the task before or after (`delete` to those a move takes it from,
/// `create` to those it brings it to). As DRF: a missing task is
/// [`DomainError::NotFound`] even when the draft is also invalid. The rules are checked
/// here first (for the assignee's members), then again inside the write.
pub async fn update(
    ctx: &TaskContext<'_>,
    owner: User,
    id: i64,
    draft: TaskDraft,
    errors: FieldErrors,
    if_match: Option<IfMatch>,
) -> Result<Task, DomainError> {
    let current = ctx.store.get_task(owner.clone(), id).await?;
    let target = draft.project.unwrap_or(current.project);
    let mut members = None;
    if current.project.is_some() || target.is_some() {
        let from = place_of(ctx, &owner, current.project).await?;
        let to = if target == current.project {
            from
        } else {
            place_of(ctx, &owner, target).await?
        };
        task_rules::may_move(from, to, current.user.id == owner.id)?;
        members = members_of(ctx, &owner, target).await?;
    }
    let mut changes = validate_in(&owner, members.as_deref(), draft, errors)?;
    if changes.project == Some(current.project) {
        changes.project = None;
    }
    let (task, events) = ctx
        .store
        .update_task(owner, id, changes, if_match, task_rules::write_rule)
        .await?;
    publish(ctx, events);
    Ok(task)
}

/// Deletes task `id` (an editor's, in a project) if it is still at a version `if_match`
/// names, and publishes its events (which carry the task as it was).
pub async fn delete(
    ctx: &TaskContext<'_>,
    owner: User,
    id: i64,
    if_match: Option<IfMatch>,
) -> Result<(), DomainError> {
    let events = ctx
        .store
        .delete_task(owner, id, if_match, task_rules::write_rule)
        .await?;
    publish(ctx, events);
    Ok(())
}

/// A new task for `owner` from a checked draft: in a project, if the draft names one
/// `owner` may create in.
async fn new_task(
    ctx: &TaskContext<'_>,
    owner: &User,
    draft: TaskDraft,
    errors: FieldErrors,
) -> Result<NewTask, DomainError> {
    let project = draft.project.flatten();
    if project.is_some() {
        task_rules::may_write(place_of(ctx, owner, project).await?)?;
    }
    // The members are read only to check an assignee: most creates name none.
    let members = match draft.assignee {
        Some(Some(_)) => members_of(ctx, owner, project).await?,
        _ => None,
    };
    let changes = validate_in(owner, members.as_deref(), draft, errors)?;
    Ok(NewTask {
        title: changes.title.unwrap_or_default(),
        description: changes.description.flatten(),
        completed: changes.completed.unwrap_or(false),
        due_at: changes.due_at.flatten(),
        assignee: changes.assignee.flatten(),
        project,
    })
}
