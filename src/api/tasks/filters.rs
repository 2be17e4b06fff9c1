//! The list's newer query parameters, read as django-filter reads them: `assignee`
//! (`<id>`, `me` or `none`), `project` (`<id>` or `none`) and `due_before`/`due_after`
//! (date-times, both bounds included) and `cursor` (a keyset position made for the
//! same `ordering`), each refused with a DRF-shaped 400 naming the
//! parameter.

use crate::domain::tasks::read_datetime;
use crate::domain::{DomainError, FieldErrors};
use crate::store::keyset::Cursor;
use crate::store::tasks::{AssigneeFilter, ProjectFilter, TaskQuery};

/// The filters as given in the query string.
pub(super) struct Filters {
    pub cursor: Option<String>,
    pub assignee: Option<String>,
    pub project: Option<String>,
    pub due_before: Option<String>,
    pub due_after: Option<String>,
}

/// Sets `q`'s assignee and due filters from `given` (`me` is `caller_id`), or says which
/// parameters are not valid.
pub(super) fn read_filters(
    q: &mut TaskQuery,
    given: Filters,
    caller_id: i64,
) -> Result<(), DomainError> {
    let mut errors = FieldErrors::default();
    q.assignee = match given.assignee.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("me") => Some(AssigneeFilter::User(caller_id)),
        Some("none") => Some(AssigneeFilter::Nobody),
        Some(id) => match id.parse::<i64>() {
            Ok(id) => Some(AssigneeFilter::User(id)),
            Err(_) => {
                errors.add("assignee", "Select a valid choice.");
                None
            }
        },
    };
    q.project = match given.project.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("none") => Some(ProjectFilter::Personal),
        Some(id) => match id.parse::<i64>() {
            Ok(id) => Some(ProjectFilter::Project(id)),
            Err(_) => {
                errors.add("project", "Select a valid choice.");
                None
            }
        },
    };
    let mut instant = |name: &str, v: Option<String>| match v.filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(s) => match read_datetime(&s) {
            Ok(t) => Some(t.0),
            Err(_) => {
                errors.add(name, "Enter a valid date/time.");
                None
            }
        },
    };
    q.due_before = instant("due_before", given.due_before);
    q.due_after = instant("due_after", given.due_after);
    q.after = match given.cursor.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => match Cursor::decode(text, q.ordering) {
            Some(c) => Some(c),
            None => {
                errors.add("cursor", "Invalid cursor.");
                None
            }
        },
    };
    errors.into_result()
}

/// The filters as the next page's link repeats them (`me` as the caller's id).
pub(super) fn link_params(q: &TaskQuery, params: &mut Vec<(&'static str, String)>) {
    match q.assignee {
        Some(AssigneeFilter::User(id)) => params.push(("assignee", id.to_string())),
        Some(AssigneeFilter::Nobody) => params.push(("assignee", "none".into())),
        None => {}
    }
    match q.project {
        Some(ProjectFilter::Project(id)) => params.push(("project", id.to_string())),
        Some(ProjectFilter::Personal) => params.push(("project", "none".into())),
        None => {}
    }
    if let Some(before) = &q.due_before {
        params.push(("due_before", before.clone()));
    }
    if let Some(after) = &q.due_after {
        params.push(("due_after", after.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(assignee: &str, before: &str) -> Result<TaskQuery, DomainError> {
        let mut q = TaskQuery::default();
        let given = Filters {
            cursor: None,
            assignee: Some(assignee.into()),
            project: None,
            due_before: Some(before.into()),
            due_after: None,
        };
        read_filters(&mut q, given, 7).map(|()| q)
    }

    #[test]
    fn me_none_and_ids_are_assignees_and_dates_are_normalised() {
        let q = read("me", "2026-12-07T10:00:00+01:00").unwrap();
        assert_eq!(q.assignee, Some(AssigneeFilter::User(7)));
        assert_eq!(q.due_before.as_deref(), Some("2026-12-07T09:00:00.000000Z"));
        assert_eq!(
            read("none", "").unwrap().assignee,
            Some(AssigneeFilter::Nobody)
        );
        assert_eq!(
            read("12", "").unwrap().assignee,
            Some(AssigneeFilter::User(12))
        );
    }

    #[test]
    fn bad_values_name_their_parameters() {
        let Err(DomainError::Invalid(e)) = read("someone", "soon") else {
            panic!("accepted")
        };
        let names: Vec<&str> = e.iter().map(|(f, _)| f).collect();
        assert_eq!(names, ["assignee", "due_before"]);
    }
}
