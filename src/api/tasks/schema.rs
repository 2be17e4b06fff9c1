//! What the task operations take and answer, as the OpenAPI document describes them.

use poem_openapi::{ApiResponse, Object, types::Example};

use crate::api::json::{PrebuiltJson, SerdeJson};
use crate::model::{Task, Timestamp};

/// A task to create, or a full replacement (`PUT`).
#[derive(Object, Debug)]
#[oai(example)]
pub struct TaskInput {
    /// 5 to 255 characters; surrounding whitespace is trimmed.
    #[oai(validator(min_length = 5, max_length = 255))]
    pub title: String,
    /// Blank, or at least 10 characters; trimmed. On `PUT`, omitted keeps the current value.
    #[oai(validator(max_length = 10000))]
    pub description: Option<String>,
    /// Defaults to `false` on create; on `PUT`, omitted keeps the current value.
    pub completed: Option<bool>,
    /// When the task is due: RFC 3339 / ISO 8601, with `Z` or an offset (none means
    /// UTC); stored in UTC with microseconds. `null` clears it; omitted: none on create,
    /// kept on `PUT`.
    #[oai(nullable)]
    pub due_at: Option<Timestamp>,
    /// The id of the user to assign the task to: for a personal task, only its owner
    /// (yourself); for a project's task, one of its members. `null` unassigns; omitted:
    /// nobody on create, kept on `PUT`.
    #[oai(nullable)]
    pub assignee: Option<i64>,
    /// The id of the project the task is in (creating or moving one there needs the
    /// editor role; moving a personal task in, being its creator); `null` for a personal
    /// task. Omitted: personal on create, kept on `PUT`.
    #[oai(nullable)]
    pub project: Option<i64>,
}

impl Example for TaskInput {
    fn example() -> Self {
        TaskInput {
            title: "Write report".into(),
            description: Some("Quarterly report for Q3".into()),
            completed: Some(false),
            due_at: Some("2026-12-01T17:00:00Z".into()),
            assignee: None,
            project: None,
        }
    }
}

/// A partial change (`PATCH`): only the fields given change.
#[derive(Object, Debug)]
#[oai(example, skip_serializing_if_is_none)]
pub struct TaskPatch {
    /// 5 to 255 characters; surrounding whitespace is trimmed.
    #[oai(validator(min_length = 5, max_length = 255))]
    pub title: Option<String>,
    /// Blank, or at least 10 characters; trimmed.
    #[oai(validator(max_length = 10000))]
    pub description: Option<String>,
    pub completed: Option<bool>,
    /// When the task is due (as on create); `null` clears it.
    #[oai(nullable)]
    pub due_at: Option<Timestamp>,
    /// The id of the user to assign the task to (as on create); `null` unassigns.
    #[oai(nullable)]
    pub assignee: Option<i64>,
    /// Moves the task into this project (as on create); `null` makes it personal.
    #[oai(nullable)]
    pub project: Option<i64>,
}

impl Example for TaskPatch {
    fn example() -> Self {
        TaskPatch {
            title: None,
            description: None,
            completed: Some(true),
            due_at: None,
            assignee: None,
            project: None,
        }
    }
}

#[derive(ApiResponse)]
pub enum ListTasksResponse {
    /// One page of your tasks, as a plain array.
    #[oai(status = 200)]
    Ok(
        PrebuiltJson<Vec<Task>>,
        /// How many tasks match the filters in all. Without filters, or with only
        /// `completed` and `project`, it is always given, exact (kept as counters).
        /// With any other filter it is given when this page holds every match, or with
        /// `count=true`: matches are then counted up to 10000, and a larger total is
        /// answered as 10000 with `X-Total-Count-Capped`.
        #[oai(header = "X-Total-Count")]
        Option<u64>,
        /// `true` when more than the `X-Total-Count` of 10000 match (absent otherwise).
        #[oai(header = "X-Total-Count-Capped")]
        Option<bool>,
        /// `<…>; rel="next"` when more tasks follow this page.
        #[oai(header = "Link")]
        Option<String>,
        /// Your last event id as of this page: stream with `since=<it>` to receive exactly
        /// the changes made after it.
        #[oai(header = "X-Last-Event-Id")]
        i64,
        /// This answer's validator: send it as `If-None-Match` to get a 304 while the page
        /// is unchanged.
        #[oai(header = "ETag")]
        String,
    ),
    /// The page is the one your `If-None-Match` names: keep it.
    #[oai(status = 304)]
    NotModified(
        /// The page's validator.
        #[oai(header = "ETag")]
        String,
        /// Your last event id as of this page.
        #[oai(header = "X-Last-Event-Id")]
        i64,
    ),
}

#[derive(ApiResponse)]
pub enum CreateTaskResponse {
    /// The task was created (or, for a repeated `Idempotency-Key`, the first response).
    #[oai(status = 201)]
    Created(
        SerdeJson<Task>,
        /// The task's version, for `If-Match`.
        #[oai(header = "ETag")]
        String,
        /// `true` when this is the stored response to an earlier request with the same
        /// `Idempotency-Key`; nothing was created this time.
        #[oai(header = "Idempotent-Replayed")]
        Option<bool>,
    ),
}

// Built once per request and returned at once: the task's size is no cost.
#[allow(clippy::large_enum_variant)]
#[derive(ApiResponse)]
pub enum GetTaskResponse {
    /// The task.
    #[oai(status = 200)]
    Ok(SerdeJson<Task>, #[oai(header = "ETag")] String),
    /// The task has not changed since the version in `If-None-Match`.
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
pub enum UpdateTaskResponse {
    /// The task after the change.
    #[oai(status = 200)]
    Ok(SerdeJson<Task>, #[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
pub enum DeleteTaskResponse {
    /// The task was deleted.
    #[oai(status = 204)]
    Deleted,
}
