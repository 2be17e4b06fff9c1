//! Who may do what to a task in a project: the one place these rules live, so the task
//! operations (`domain::tasks`) ask here with the caller's role as the store reports it.
//!
//! - reading a project's task: any member (viewer and up);
//! - creating, changing, deleting and assigning: editor and up;
//! - moving a task between personal and a project, or between projects: editor on both
//!   sides, and a personal task moves into a project only by its creator;
//! - an assignee of a project task is a member of that project.
//!
//! A caller who is not a member of the project gets `NotFound`, exactly as for another
//! user's task, so nobody can tell the task or the project exists; a member whose role is
//! too low is refused naming the role needed.

use crate::domain::DomainError;
use crate::model::Role;
use crate::store::projects::Refusal;
/// Where a task is, as the caller stands there (the store reads it inside the write).
pub use crate::store::tasks::Place;

/// The message for a project task's assignee who is not a member.
pub const ASSIGNEE_NOT_MEMBER: &str = "The assignee must be a member of the task's project.";

/// At least `needed` in a project the caller belongs to: `NotFound` for a non-member,
/// `NeedsRole` for a role too low.
fn at_least(role: Option<Role>, needed: Role) -> Result<(), DomainError> {
    match role {
        None => Err(DomainError::NotFound),
        Some(r) if r >= needed => Ok(()),
        Some(_) => Err(DomainError::NeedsRole(needed)),
    }
}

/// Seeing the task at `place` (get, list): its creator, or any member.
pub fn may_read(place: Place) -> Result<(), DomainError> {
    match place {
        Place::Personal { own: true } => Ok(()),
        Place::Personal { own: false } => Err(DomainError::NotFound),
        Place::Project(role) => at_least(role, Role::Viewer),
    }
}

/// Creating, changing, deleting or assigning the task at `place`: its creator for a
/// personal task, an editor for a project's (a viewer sees the task, so is told why).
pub fn may_write(place: Place) -> Result<(), DomainError> {
    match place {
        Place::Personal { own: true } => Ok(()),
        Place::Personal { own: false } => Err(DomainError::NotFound),
        Place::Project(role) => at_least(role, Role::Editor),
    }
}

/// Moving a task from `from` to `to` (a no-op move is a plain change): writing on both
/// sides, and `creator` (the caller created the task) to bring a personal task into a
/// project. The source is checked first, so a task the caller cannot see stays
/// `NotFound` whatever the target.
pub fn may_move(from: Place, to: Place, creator: bool) -> Result<(), DomainError> {
    may_write(from)?;
    if from == to {
        return Ok(());
    }
    may_write(to)?;
    if matches!(from, Place::Personal { .. }) && matches!(to, Place::Project(_)) && !creator {
        return Err(DomainError::NotFound);
    }
    Ok(())
}

/// [`may_move`] as the store's [`TaskRule`](crate::store::tasks::TaskRule), for every
/// task write (a create, change or delete is a "move" from and to the same place): asked
/// inside the write's transaction with the caller's roles as they are there, so a member
/// removed or demoted by a write that committed first is refused. `NotFound` becomes the
/// missing task, `NeedsRole` stays.
pub fn write_rule(from: Place, to: Place, creator: bool) -> Result<(), Refusal> {
    may_move(from, to, creator).map_err(|e| match e {
        DomainError::NeedsRole(role) => Refusal::NeedsRole(role),
        _ => Refusal::Missing("Task"),
    })
}

/// An assignee for a project task: `member` says whether they belong to the project.
pub fn check_project_assignee(member: bool) -> Result<(), String> {
    if member {
        Ok(())
    } else {
        Err(ASSIGNEE_NOT_MEMBER.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: Place = Place::Personal { own: true };
    const OTHERS: Place = Place::Personal { own: false };

    fn role(r: Role) -> Place {
        Place::Project(Some(r))
    }

    fn status(r: Result<(), DomainError>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(DomainError::NotFound) => "404",
            Err(DomainError::NeedsRole(Role::Editor)) => "403 editor",
            Err(DomainError::NeedsRole(Role::Viewer)) => "403 viewer",
            Err(_) => "other",
        }
    }

    #[test]
    fn reading_needs_membership_and_writing_needs_editor() {
        let cases = [
            (OWN, "ok", "ok"),
            (OTHERS, "404", "404"),
            (Place::Project(None), "404", "404"),
            (role(Role::Viewer), "ok", "403 editor"),
            (role(Role::Editor), "ok", "ok"),
            (role(Role::Admin), "ok", "ok"),
            (role(Role::Owner), "ok", "ok"),
        ];
        for (place, read, write) in cases {
            assert_eq!(status(may_read(place)), read, "read {place:?}");
            assert_eq!(status(may_write(place)), write, "write {place:?}");
        }
    }

    #[test]
    fn moving_needs_editor_on_both_sides_and_the_creator_into_a_project() {
        let editor = role(Role::Editor);
        let viewer = role(Role::Viewer);
        let cases = [
            (OWN, editor, true, "ok"),
            (editor, OWN, false, "ok"),
            (editor, role(Role::Admin), false, "ok"),
            (editor, viewer, false, "403 editor"),
            (viewer, editor, true, "403 editor"),
            (editor, Place::Project(None), true, "404"),
            (Place::Project(None), editor, true, "404"),
            (OTHERS, editor, false, "404"),
            (editor, editor, false, "ok"),
            (viewer, viewer, true, "403 editor"),
        ];
        for (from, to, creator, expected) in cases {
            assert_eq!(
                status(may_move(from, to, creator)),
                expected,
                "{from:?} -> {to:?} creator={creator}"
            );
        }
    }

    #[test]
    fn a_project_assignee_is_a_member() {
        assert!(check_project_assignee(true).is_ok());
        assert_eq!(
            check_project_assignee(false).unwrap_err(),
            ASSIGNEE_NOT_MEMBER
        );
    }
}
