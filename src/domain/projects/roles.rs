//! Who may do what in a project: the role order (viewer < editor < admin < owner, each
//! including the ones before) and one rule per change, each a [`Rule`] the store applies
//! inside the change's transaction to the roles as they are there.
//!
//! - admin: invites (editors and viewers), withdraws invitations, removes and re-roles
//!   members below admin, renames;
//! - owner: also deletes the project, transfers it (to an admin member), and invites,
//!   removes and re-roles admins;
//! - anyone but the owner may leave; the owner transfers first (409).

use crate::model::Role;
use crate::store::projects::{Check, Refusal, Rule};

type Outcome = Result<(), Refusal>;

/// At least `role`, or refused naming it.
fn at_least(actual: Role, role: Role) -> Outcome {
    if actual >= role {
        Ok(())
    } else {
        Err(Refusal::NeedsRole(role))
    }
}

/// The role needed to manage a member who has (or is given) `role`: the owner manages
/// admins, an admin the roles below.
fn manager_of(role: Role) -> Role {
    if role >= Role::Admin {
        Role::Owner
    } else {
        Role::Admin
    }
}

/// Renaming: admin.
pub fn rename(c: &Check) -> Outcome {
    at_least(c.actor, Role::Admin)
}

/// Deleting: the owner.
pub fn delete(c: &Check) -> Outcome {
    at_least(c.actor, Role::Owner)
}

/// Listing and withdrawing invitations: admin.
pub fn manage_invitations(c: &Check) -> Outcome {
    at_least(c.actor, Role::Admin)
}

/// Inviting with a role: admin for editors and viewers, the owner for admins; nobody is
/// invited as owner.
pub fn invite(c: &Check) -> Outcome {
    at_least(c.actor, Role::Admin)?;
    let role = c.new_role.unwrap_or(Role::Viewer);
    if role == Role::Owner {
        return Err(Refusal::Invalid(
            "role",
            "Nobody is invited as owner: invite an admin, then transfer the project.".into(),
        ));
    }
    at_least(c.actor, manager_of(role))
}

/// Changing a member's role: admin for roles below admin, the owner to make or unmake an
/// admin; the owner's own role changes only by a transfer.
pub fn set_role(c: &Check) -> Outcome {
    at_least(c.actor, Role::Admin)?;
    let target = c.target.unwrap_or(Role::Owner);
    if target == Role::Owner {
        return Err(Refusal::Conflict(
            "The owner's role changes only by transferring the project.".into(),
        ));
    }
    at_least(c.actor, manager_of(target))?;
    at_least(c.actor, manager_of(c.new_role.unwrap_or(Role::Viewer)))
}

/// Removing a member: leaving (oneself) for anyone but the owner; removing others as for
/// changing their role.
pub fn remove(c: &Check) -> Outcome {
    let target = c.target.unwrap_or(Role::Owner);
    if c.is_self {
        if target == Role::Owner {
            return Err(Refusal::Conflict(
                "The owner cannot leave the project: transfer it to an admin first.".into(),
            ));
        }
        return Ok(());
    }
    at_least(c.actor, Role::Admin)?;
    if target == Role::Owner {
        return Err(Refusal::Conflict(
            "The owner cannot be removed: they may transfer the project first.".into(),
        ));
    }
    at_least(c.actor, manager_of(target))
}

/// Transferring: the owner, to an admin member.
pub fn transfer(c: &Check) -> Outcome {
    at_least(c.actor, Role::Owner)?;
    if c.is_self {
        return Err(Refusal::Conflict("You already own the project.".into()));
    }
    match c.target {
        Some(Role::Admin) => Ok(()),
        _ => Err(Refusal::Invalid(
            "user_id",
            "Ownership goes only to an admin member: make them admin first.".into(),
        )),
    }
}

/// Every rule, for tests and the docs.
pub const RULES: &[(&str, Rule)] = &[
    ("rename", rename),
    ("delete", delete),
    ("manage_invitations", manage_invitations),
    ("invite", invite),
    ("set_role", set_role),
    ("remove", remove),
    ("transfer", transfer),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn check(actor: Role, target: Option<Role>, new_role: Option<Role>) -> Check {
        Check {
            actor,
            target,
            new_role,
            is_self: false,
        }
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Viewer < Role::Editor);
        assert!(Role::Editor < Role::Admin);
        assert!(Role::Admin < Role::Owner);
    }

    #[test]
    fn admins_manage_below_admin_and_the_owner_manages_admins() {
        let admin = |t, n| set_role(&check(Role::Admin, Some(t), Some(n)));
        assert_eq!(admin(Role::Viewer, Role::Editor), Ok(()));
        assert_eq!(
            admin(Role::Editor, Role::Admin),
            Err(Refusal::NeedsRole(Role::Owner))
        );
        assert_eq!(
            admin(Role::Admin, Role::Viewer),
            Err(Refusal::NeedsRole(Role::Owner))
        );
        let owner = check(Role::Owner, Some(Role::Admin), Some(Role::Viewer));
        assert_eq!(set_role(&owner), Ok(()));
        let editor = check(Role::Editor, Some(Role::Viewer), Some(Role::Viewer));
        assert_eq!(set_role(&editor), Err(Refusal::NeedsRole(Role::Admin)));
    }

    #[test]
    fn the_owner_cannot_leave_but_others_can() {
        let leave = |r| Check {
            is_self: true,
            ..check(r, Some(r), None)
        };
        assert!(matches!(
            remove(&leave(Role::Owner)),
            Err(Refusal::Conflict(_))
        ));
        assert_eq!(remove(&leave(Role::Viewer)), Ok(()));
        assert_eq!(remove(&leave(Role::Admin)), Ok(()));
    }

    #[test]
    fn invitations_and_transfers() {
        let inv = |a, r| invite(&check(a, None, Some(r)));
        assert_eq!(inv(Role::Admin, Role::Editor), Ok(()));
        assert_eq!(
            inv(Role::Admin, Role::Admin),
            Err(Refusal::NeedsRole(Role::Owner))
        );
        assert_eq!(
            inv(Role::Editor, Role::Viewer),
            Err(Refusal::NeedsRole(Role::Admin))
        );
        assert!(matches!(
            inv(Role::Owner, Role::Owner),
            Err(Refusal::Invalid(..))
        ));
        let to = |t| transfer(&check(Role::Owner, Some(t), Some(Role::Owner)));
        assert_eq!(to(Role::Admin), Ok(()));
        assert!(matches!(to(Role::Editor), Err(Refusal::Invalid(..))));
        let by_admin = check(Role::Admin, Some(Role::Admin), Some(Role::Owner));
        assert_eq!(transfer(&by_admin), Err(Refusal::NeedsRole(Role::Owner)));
    }
}
