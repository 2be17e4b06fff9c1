//! The nouns shared by `store`, `api` and `hub`: users, tasks, task events, and shared
//! projects with their members and invitations.
//!
//! They derive both poem-openapi's `Object` (for the HTTP schema) and serde's
//! `Serialize` (for the outbox and the stream), with fields in the original app's key order.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    Example, ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An instant as the API writes it: RFC 3339 in UTC with microseconds
/// (`2026-11-25T11:42:56.437485Z`, see `clock::timestamp`). The text is kept as stored, so
/// the wire is unchanged; the type is there so the document says `format: date-time`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(transparent)]
pub struct Timestamp(pub String);

impl Timestamp {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Timestamp {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for Timestamp {
    fn from(s: String) -> Self {
        Timestamp(s)
    }
}

impl From<&str> for Timestamp {
    fn from(s: &str) -> Self {
        Timestamp(s.to_owned())
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Type for Timestamp {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date-time")))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Timestamp {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => Ok(Timestamp(s)),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

/// In a query string the text is taken as given; the operation reads it (and says what
/// is wrong with it in DRF's words).
impl ParseFromParameter for Timestamp {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Timestamp(value.to_owned()))
    }
}

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// A user as the API shows it: never the password hash.
#[derive(Object, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[oai(rename = "User", example)]
pub struct User {
    /// Unique id.
    pub id: i64,
    /// Login name: letters, digits and `@.+-_`, at most 150 characters; case-sensitive.
    pub username: String,
    /// Email address, unique ignoring case.
    pub email: String,
}

/// Another user as a task or a project shows them (a task's `assignee`, a project's
/// `owner`, an invitation's `inviter` and `invitee`): the id and username, never the
/// email, which only its owner sees.
#[derive(Object, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[oai(rename = "UserRef", example)]
pub struct UserRef {
    /// The user's id.
    pub id: i64,
    /// The user's login name.
    pub username: String,
}

impl From<&User> for UserRef {
    fn from(u: &User) -> Self {
        UserRef {
            id: u.id,
            username: u.username.clone(),
        }
    }
}

impl Example for UserRef {
    fn example() -> Self {
        UserRef {
            id: 1,
            username: "alice".into(),
        }
    }
}

/// A task's creator as the task shows them: `email` only to the creator themself.
#[derive(Object, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[oai(rename = "TaskUser", example)]
pub struct TaskUser {
    /// The creator's id.
    pub id: i64,
    /// The creator's login name.
    pub username: String,
    /// The creator's email: present only when you are the task's creator. A task in a
    /// shared project shown to another member leaves it out (members never see each
    /// other's email).
    #[oai(skip_serializing_if_is_none)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl TaskUser {
    /// The creator as `viewer` sees them: with the email only when it is them.
    pub fn seen_by(&self, viewer: i64) -> TaskUser {
        TaskUser {
            id: self.id,
            username: self.username.clone(),
            email: if viewer == self.id {
                self.email.clone()
            } else {
                None
            },
        }
    }
}

impl From<User> for TaskUser {
    fn from(u: User) -> Self {
        TaskUser {
            id: u.id,
            username: u.username,
            email: Some(u.email),
        }
    }
}

impl Example for TaskUser {
    fn example() -> Self {
        User::example().into()
    }
}

/// A task, always created by exactly one user; a personal task is seen by its creator
/// alone, a project's by every member.
#[derive(Object, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[oai(rename = "Task", example)]
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
    pub created_at: Timestamp,
    /// When the task last changed (RFC 3339, UTC, microseconds).
    pub updated_at: Timestamp,
    // The creator. (No doc comment: it would turn the `$ref` into an `allOf` wrapper that
    // client generators render as a separate class.) `TaskUser` says when the email is
    // left out.
    pub user: TaskUser,
    /// 1 at creation, +1 on every change; also the `ETag` (`"v3"`). Send it back in
    /// `If-Match` to change the task only if nobody else has.
    pub version: i64,
    /// The project the task belongs to; `null` for a personal task.
    #[oai(nullable)]
    #[serde(default)]
    pub project: Option<i64>,
    // Who the task is assigned to (`{id, username}`, never an email), or `null`. (No
    // doc comment, as for `user`; `UserRef` says what it is.)
    #[oai(nullable)]
    #[serde(default)]
    pub assignee: Option<UserRef>,
    /// When the task is due (RFC 3339, UTC, microseconds), or `null`.
    #[oai(nullable)]
    #[serde(default)]
    pub due_at: Option<Timestamp>,
}

impl Example for User {
    fn example() -> Self {
        User {
            id: 1,
            username: "alice".into(),
            email: "alice@example.com".into(),
        }
    }
}

impl Example for Task {
    fn example() -> Self {
        Task {
            id: 42,
            title: "Write report".into(),
            description: Some("Quarterly report for Q3".into()),
            completed: false,
            created_at: "2026-11-25T11:42:56.437485Z".into(),
            updated_at: "2026-11-25T11:42:56.437485Z".into(),
            user: User::example().into(),
            version: 1,
            project: None,
            assignee: Some(UserRef::example()),
            due_at: Some("2026-12-01T17:00:00.000000Z".into()),
        }
    }
}

// The one definition of the list's orders: the API parses it, the store sorts by it.
/// Sort order of the list; `-` means descending. Ties are broken by id (descending with
/// `-`). By `due_at` either way, tasks without a due date come last.
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
    #[oai(rename = "due_at")]
    DueAt,
    #[oai(rename = "-due_at")]
    DueAtDesc,
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
            Ordering::DueAt => "due_at",
            Ordering::DueAtDesc => "-due_at",
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
    /// A project the user belongs to, as they now see it (joined, renamed, re-roled,
    /// transferred); the event's `task` holds the project.
    Project,
    /// The user no longer belongs to the project (left, removed, or it was deleted); the
    /// event's `task` holds `{"id"}`.
    #[serde(rename = "project_removed")]
    #[oai(rename = "project_removed")]
    ProjectRemoved,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Project => "project",
            Action::ProjectRemoved => "project_removed",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "create" => Some(Action::Create),
            "update" => Some(Action::Update),
            "delete" => Some(Action::Delete),
            "project" => Some(Action::Project),
            "project_removed" => Some(Action::ProjectRemoved),
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

/// A member's role in a project; each includes the ones before it.
#[derive(
    Enum, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
)]
#[oai(rename = "ProjectRole", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the project, its tasks and its members.
    Viewer,
    /// Also creates, changes, deletes and assigns tasks.
    Editor,
    /// Also invites, removes and re-roles members below admin, and renames.
    Admin,
    /// Exactly one per project: also deletes it, transfers it, and manages admins.
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// A shared project, as one of its members sees it.
#[derive(Object, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[oai(rename = "Project")]
pub struct Project {
    /// Unique id; never reused.
    pub id: i64,
    /// 1 to 100 characters, trimmed.
    pub name: String,
    // The owner. (No doc comment: it would wrap the `$ref` in an `allOf`.)
    pub owner: UserRef,
    // Your own role in the project.
    pub role: Role,
    /// How many members the project has, the owner included.
    pub member_count: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// 1 at creation, +1 on every rename or transfer.
    pub version: i64,
}

/// A member of a project (never their email).
#[derive(Object, Serialize, Clone, Debug, PartialEq, Eq)]
#[oai(rename = "ProjectMember")]
pub struct Member {
    /// The member's user id.
    pub id: i64,
    pub username: String,
    pub role: Role,
    /// When they joined (for the owner: when the project was created).
    pub joined_at: Timestamp,
}

/// A project named in an invitation.
#[derive(Object, Serialize, Clone, Debug, PartialEq, Eq)]
#[oai(rename = "ProjectRef")]
pub struct ProjectRef {
    pub id: i64,
    pub name: String,
}

/// An invitation to join a project: nobody becomes a member without accepting one.
#[derive(Object, Serialize, Clone, Debug, PartialEq, Eq)]
#[oai(rename = "Invitation")]
pub struct Invitation {
    pub id: i64,
    pub project: ProjectRef,
    pub inviter: UserRef,
    pub invitee: UserRef,
    // The role the invitee gets on accepting.
    pub role: Role,
    pub created_at: Timestamp,
    /// After this instant the invitation can no longer be accepted (7 days).
    pub expires_at: Timestamp,
}
