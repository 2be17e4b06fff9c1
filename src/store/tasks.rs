//! Tasks as the store takes and gives them. Every change writes its outbox event in the
//! same transaction and returns it, so the caller can publish exactly what was committed.

use super::{Result, StoreError};
use crate::model::{Ordering, Task};

/// A validated new task.
#[derive(Clone, Debug)]
pub struct NewTask {
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
}

/// A validated change; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
}

/// The `ORDER BY` of each order; every one ends with the id.
pub(crate) fn order_by(ordering: Ordering) -> &'static str {
    match ordering {
        Ordering::Id => "id",
        Ordering::IdDesc => "id DESC",
        Ordering::CreatedAt => "created_at, id",
        Ordering::CreatedAtDesc => "created_at DESC, id DESC",
        Ordering::UpdatedAt => "updated_at, id",
        Ordering::UpdatedAtDesc => "updated_at DESC, id DESC",
        Ordering::Title => "title, id",
        Ordering::TitleDesc => "title DESC, id DESC",
    }
}

/// Filters and paging for the list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TaskQuery {
    pub completed: Option<bool>,
    /// Case-insensitive substring of title or description.
    pub search: Option<String>,
    pub ordering: Ordering,
    pub limit: u32,
    pub offset: u64,
}

/// A page of the list.
#[derive(Debug)]
pub struct TaskPage {
    /// The tasks, as a JSON array.
    pub json: Vec<u8>,
    /// How many tasks the page has.
    pub count: usize,
    /// How many tasks match in all.
    pub total: u64,
    pub last_event_id: i64,
}

/// An `If-Match` condition: any current version (`*`), or one of these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfMatch {
    Any,
    Versions(Vec<i64>),
}

pub(crate) fn check(task: &Task, if_match: Option<&IfMatch>) -> Result<()> {
    match if_match {
        Some(IfMatch::Versions(v)) if !v.contains(&task.version) => Err(StoreError::Stale {
            current: task.version,
        }),
        _ => Ok(()),
    }
}

/// `%`, `_` and `\` in a search term are literal.
pub(crate) fn like_pattern(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}
