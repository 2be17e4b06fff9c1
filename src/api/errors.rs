//! What each family of operations can answer besides its successes (and a 500): the
//! error type of each operation, as the statuses it documents.

use crate::error::Errors;
use crate::error::status::{
    AUTH, BAD_REQUEST, BODY, CONFLICT, NOT_FOUND, PRECONDITION_FAILED, REAUTH, SERVICE_UNAVAILABLE,
    TOO_MANY_REQUESTS, UNAUTHORIZED, UNPROCESSABLE,
};

/// Registering: a body, throttled per address, a password to hash.
pub type RegisterErrors = Errors<{ BODY | TOO_MANY_REQUESTS | SERVICE_UNAVAILABLE }>;
/// Logging in: as registering, and wrong credentials.
pub type LoginErrors = Errors<{ BODY | UNAUTHORIZED | TOO_MANY_REQUESTS | SERVICE_UNAVAILABLE }>;
/// Refreshing or revoking: a body with a refresh token that may be refused.
pub type RefreshErrors = Errors<{ BODY | UNAUTHORIZED }>;
/// Reading behind the Bearer scheme.
pub type ReadErrors = Errors<AUTH>;
/// Reading a list with query parameters.
pub type QueryErrors = Errors<{ AUTH | BAD_REQUEST }>;
/// Reading or removing one object by id.
pub type OneErrors = Errors<{ AUTH | NOT_FOUND }>;
/// Creating a task: a body, the project it is created in, and an idempotency key that
/// may not match.
pub type CreateTaskErrors = Errors<{ AUTH | BODY | NOT_FOUND | UNPROCESSABLE }>;
/// Changing a task: a body, the task, and `If-Match`.
pub type ChangeTaskErrors = Errors<{ AUTH | BODY | NOT_FOUND | PRECONDITION_FAILED }>;
/// Deleting a task: the task, and `If-Match`.
pub type DeleteTaskErrors = Errors<{ AUTH | NOT_FOUND | PRECONDITION_FAILED }>;
/// Creating something from a body behind the Bearer scheme.
pub type CreateErrors = Errors<{ AUTH | BODY }>;
/// Deleting your account: a body, your password checked as a login attempt, and a 409
/// while you own projects that have other members.
pub type AccountErrors =
    Errors<{ AUTH | BODY | NOT_FOUND | CONFLICT | TOO_MANY_REQUESTS | SERVICE_UNAVAILABLE }>;
/// Changing your account: as deleting it, and a new username or email needs proof of the
/// password (403 `reauthentication_required`).
pub type AccountChangeErrors =
    Errors<{ AUTH | BODY | NOT_FOUND | TOO_MANY_REQUESTS | SERVICE_UNAVAILABLE | REAUTH }>;
/// Minting an API token: a body, and proof of the password (`current_password` checked
/// as a login attempt, or a recent password login).
pub type MintErrors = Errors<{ AUTH | BODY | TOO_MANY_REQUESTS | SERVICE_UNAVAILABLE | REAUTH }>;
/// Opening a stream: query parameters, and a cap on open streams.
pub type StreamErrors = Errors<{ AUTH | BAD_REQUEST | TOO_MANY_REQUESTS }>;
/// Creating a project: a body, and the limit on projects owned.
pub type CreateProjectErrors = Errors<{ AUTH | BODY | CONFLICT }>;
/// Changing a project or a member: a body, the project (or member), a role or the
/// project's state that refuses it, and `If-Match`.
pub type ChangeProjectErrors = Errors<{ AUTH | BODY | NOT_FOUND | CONFLICT | PRECONDITION_FAILED }>;
/// Removing a project, a member or an invitation, or accepting one: the object, and the
/// project's state (an owner leaving, a full project).
pub type RemoveProjectErrors = Errors<{ AUTH | NOT_FOUND | CONFLICT }>;
/// Inviting: a body, the project, its limits, and the per-user throttle.
pub type InviteErrors = Errors<{ AUTH | BODY | NOT_FOUND | CONFLICT | TOO_MANY_REQUESTS }>;
