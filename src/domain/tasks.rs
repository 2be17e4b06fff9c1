//! The task operations, one function each: list, get, create (once per idempotency key,
//! when given one), change and delete. Each checks the request against the rules, writes
//! through the store and, once the write has committed, publishes its event to the hub:
//! the one place a task changes, so a rule about who may do what to a task lives here.
//!
//! The rules for a task's fields are the original serializer's: a title of 5 to 255
//! characters; a description that is blank or at least 10 characters (up to 10,000);
//! `completed`. Then the fields added since: `due_at`, a date-time (as DRF reads one,
//! kept in UTC with microseconds), and `assignee`, who may only be the task's owner
//! while every task is personal ([`check_assignee`], the one place that says who may be
//! assigned). Both are nullable: `null` clears them.
//!
//! Every function takes the owner as a [`User`]: a task of another user is
//! [`DomainError::NotFound`], never a refusal, so nobody can tell it exists.

use std::sync::Arc;
use std::time::Duration;

use super::listing::{ListPage, Listing};
use super::{Chars, DomainError, FieldErrors, check_chars, check_field};
use crate::clock::{now_secs_f64, parse_timestamp};
use crate::hub::Hub;
use crate::model::{Task, Timestamp, User, UserRef};
use crate::store::Store;
use crate::store::idempotency::{Key, Keyed};
use crate::store::tasks::{IfMatch, NewTask, TaskChanges, TaskQuery};

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
}

/// DRF's message for a date-time it cannot read.
pub const DATETIME_FORMAT: &str = "Datetime has wrong format. Use one of these formats \
     instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

/// The message for an assignee the task cannot have.
pub const ASSIGNEE_NOT_ALLOWED: &str = "A personal task can only be assigned to its owner.";

/// Who may be assigned to `owner`'s task: the owner, or nobody. (A task is personal, so
/// its owner is the only one who can see it.) The user as the task shows them.
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
    let assignee = draft.assignee.and_then(|a| match check_assignee(owner, a) {
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
    })
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

/// `owner`'s task `id`.
pub async fn get(ctx: &TaskContext<'_>, owner: User, id: i64) -> Result<Task, DomainError> {
    Ok(ctx.store.get_task(owner, id).await?)
}

/// Creates a task for `owner` from a checked draft (`completed` defaults to `false`), and
/// publishes its event.
pub async fn create(
    ctx: &TaskContext<'_>,
    owner: User,
    draft: TaskDraft,
    errors: FieldErrors,
) -> Result<Created, DomainError> {
    let new = new_task(&owner, draft, errors)?;
    let (task, event) = ctx.store.create_task(owner, new).await?;
    ctx.hub.publish(event);
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
    let new = new_task(&owner, draft, errors)?;
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
    match ctx.store.create_task_once(owner, new, key).await? {
        Keyed::Created(task, event) => {
            ctx.hub.publish(event);
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

/// Changes `owner`'s task `id` by a checked draft (an absent field keeps its value) if
/// it is still at a version `if_match` names, and publishes its event. As DRF: a missing
/// task is [`DomainError::NotFound`] even when the draft is also invalid.
pub async fn update(
    ctx: &TaskContext<'_>,
    owner: User,
    id: i64,
    draft: TaskDraft,
    errors: FieldErrors,
    if_match: Option<IfMatch>,
) -> Result<Task, DomainError> {
    let changes = match validate(&owner, draft, errors) {
        Ok(c) => c,
        Err(invalid) => {
            ctx.store.get_task(owner, id).await?;
            return Err(invalid);
        }
    };
    let (task, event) = ctx.store.update_task(owner, id, changes, if_match).await?;
    ctx.hub.publish(event);
    Ok(task)
}

/// Deletes `owner`'s task `id` if it is still at a version `if_match` names, and
/// publishes its event (which carries the task as it was).
pub async fn delete(
    ctx: &TaskContext<'_>,
    owner: User,
    id: i64,
    if_match: Option<IfMatch>,
) -> Result<(), DomainError> {
    let event = ctx.store.delete_task(owner, id, if_match).await?;
    ctx.hub.publish(event);
    Ok(())
}

/// A new task for `owner` from a checked draft.
fn new_task(owner: &User, draft: TaskDraft, errors: FieldErrors) -> Result<NewTask, DomainError> {
    let changes = validate(owner, draft, errors)?;
    Ok(NewTask {
        title: changes.title.unwrap_or_default(),
        description: changes.description.flatten(),
        completed: changes.completed.unwrap_or(false),
        due_at: changes.due_at.flatten(),
        assignee: changes.assignee.flatten(),
    })
}
