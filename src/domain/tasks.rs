//! The original serializer's rules for a task: a title of 5 to 255 characters; a
//! description that is blank or at least 10 characters (up to 10,000); `completed`.

use super::{Chars, DomainError, FieldErrors, check_chars, check_field};
use crate::store::tasks::TaskChanges;

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

/// A task's fields as given: `None` for a field that is absent (kept, on a change) or
/// was already refused (its message is in the errors handed to [`validate`]).
#[derive(Debug, Default, Clone)]
pub struct TaskDraft {
    pub title: Option<String>,
    pub description: Option<String>,
    pub completed: Option<bool>,
}

/// Checks a draft; the result says which fields change.
pub fn validate(draft: TaskDraft, mut errors: FieldErrors) -> Result<TaskChanges, DomainError> {
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
    errors
        .ordered(&["title", "description", "completed"])
        .into_result()?;
    Ok(TaskChanges {
        title,
        description: description.map(Some),
        completed: draft.completed,
    })
}
