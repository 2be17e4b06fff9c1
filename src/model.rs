//! The nouns shared by `store`, `api` and `hub`: users, tasks and task events.
//!
//! They derive both poem-openapi's `Object` (for the HTTP schema) and serde's
//! `Serialize` (for the outbox and the stream), with fields in the original app's key order.

use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};

/// A user as the API shows it: never the password hash.
#[derive(Object, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[oai(rename = "User")]
pub struct User {
    /// Unique id.
    pub id: i64,
    /// Login name: letters, digits and `@.+-_`, at most 150 characters; case-sensitive.
    pub username: String,
    /// Email address, unique ignoring case.
    pub email: String,
}

/// A task, always owned by exactly one user.
#[derive(Object, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[oai(rename = "Task")]
pub struct Task {
    /// Unique id; ids are global and never reused.
    pub id: i64,
    /// 5 to 255 characters, trimmed.
    pub title: String,
    /// `null` when never given; otherwise blank or at least 10 characters.
    #[oai(nullable)]
    pub description: Option<String>,
    /// Whether the task is done.
    pub completed: bool,
    /// When the task was created (RFC 3339, UTC, microseconds).
    pub created_at: String,
    /// When the task last changed (RFC 3339, UTC, microseconds).
    pub updated_at: String,
    // The owner. (No doc comment: it would turn the `$ref` into an `allOf` wrapper that
    // client generators render as a separate class.)
    pub user: User,
    /// 1 at creation, +1 on every change; also the `ETag` (`"v3"`). Send it back in
    /// `If-Match` to change the task only if nobody else has.
    pub version: i64,
}

// The one definition of the list's orders: the API parses it, the store sorts by it.
/// Sort order of the list; `-` means descending. Ties are broken by id.
#[derive(Enum, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[oai(rename = "TaskOrdering")]
pub enum Ordering {
    #[default]
    #[oai(rename = "id")]
    Id,
    #[oai(rename = "-id")]
    IdDesc,
    #[oai(rename = "created_at")]
    CreatedAt,
    #[oai(rename = "-created_at")]
    CreatedAtDesc,
    #[oai(rename = "updated_at")]
    UpdatedAt,
    #[oai(rename = "-updated_at")]
    UpdatedAtDesc,
    #[oai(rename = "title")]
    Title,
    #[oai(rename = "-title")]
    TitleDesc,
}

impl Ordering {
    /// As written in a query string.
    pub fn as_str(self) -> &'static str {
        match self {
            Ordering::Id => "id",
            Ordering::IdDesc => "-id",
            Ordering::CreatedAt => "created_at",
            Ordering::CreatedAtDesc => "-created_at",
            Ordering::UpdatedAt => "updated_at",
            Ordering::UpdatedAtDesc => "-updated_at",
            Ordering::Title => "title",
            Ordering::TitleDesc => "-title",
        }
    }
}

/// What happened to a task.
#[derive(Enum, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "create" => Some(Action::Create),
            "update" => Some(Action::Update),
            "delete" => Some(Action::Delete),
            _ => None,
        }
    }
}

/// One committed task change, as stored in the outbox and sent to the owner's streams.
///
/// `json` is the whole message, serialised once when the event is read or written, so
/// fanning it out to many sockets never serialises it again.
#[derive(Clone, Debug)]
pub struct Event {
    /// The event id: 1, 2, 3… per user, in commit order.
    pub id: i64,
    /// The owner of the task; the only user who receives the event.
    pub user_id: i64,
    pub action: Action,
    /// `{"event_id": …, "action": …, "task": {…}, "at": …}`
    pub json: String,
}

impl Event {
    /// Builds the wire form from the stored parts; `task_json` is already JSON.
    pub fn new(id: i64, user_id: i64, action: Action, task_json: &str, at: &str) -> Event {
        let json = format!(
            r#"{{"event_id":{id},"action":"{}","task":{task_json},"at":{}}}"#,
            action.as_str(),
            serde_json::Value::String(at.to_owned())
        );
        Event {
            id,
            user_id,
            action,
            json,
        }
    }
}
