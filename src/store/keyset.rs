//! Keyset pages of the task list: a page after a [`Cursor`] (the last task of the page
//! before, by its ordering key and id) is read from where that task sorts, so page 1,000
//! costs what page 1 costs, whereas `offset` walks every skipped row.
//!
//! A cursor travels as opaque text (base64url), names its ordering and is refused when
//! used with another, or when it does not decode: a client cannot make one that reads
//! anything but a position (the filters and who sees what still apply).

use base64::Engine;

use crate::model::Ordering;
use crate::store::{Result, StoreError};

/// The position after which a page starts: the previous page's last task.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub ordering: Ordering,
    /// The task's value of the ordering's column (`None` for the id orders, or a task
    /// without a due date in the `due_at` orders).
    pub key: Option<String>,
    pub id: i64,
}

/// Cursor text longer than this is refused unread (a title is at most 255 characters).
pub const MAX_CURSOR_LEN: usize = 2048;

/// Which column an ordering sorts by, before the id.
fn key_column(o: Ordering) -> Option<&'static str> {
    match o {
        Ordering::Id | Ordering::IdDesc => None,
        Ordering::CreatedAt | Ordering::CreatedAtDesc => Some("created_at"),
        Ordering::UpdatedAt | Ordering::UpdatedAtDesc => Some("updated_at"),
        Ordering::Title | Ordering::TitleDesc => Some("title"),
        Ordering::DueAt | Ordering::DueAtDesc => Some("due_at"),
    }
}

fn descending(o: Ordering) -> bool {
    o.as_str().starts_with('-')
}

/// Which of a task row's [`TASK_COLUMNS`](super::tasks::TASK_COLUMNS) holds the
/// ordering's key (`None` for the id orders).
pub(crate) fn key_index(o: Ordering) -> Option<usize> {
    key_column(o).map(|c| match c {
        "title" => 1,
        "created_at" => 4,
        "updated_at" => 5,
        _ => 7,
    })
}

impl Cursor {
    /// The cursor as a query parameter's value.
    pub fn encode(&self) -> String {
        let key = match &self.key {
            Some(k) => format!("s{k}"),
            None => "n".to_owned(),
        };
        let text = format!("{}\n{}\n{key}", self.ordering.as_str(), self.id);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    /// The cursor `text` names, if it is one made for `ordering` (else `None`).
    pub fn decode(text: &str, ordering: Ordering) -> Option<Cursor> {
        if text.len() > MAX_CURSOR_LEN {
            return None;
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(3, '\n');
        if parts.next()? != ordering.as_str() {
            return None;
        }
        let id: i64 = parts.next()?.parse().ok()?;
        let key = match parts.next()? {
            "n" => None,
            k => Some(k.strip_prefix('s')?.to_owned()),
        };
        let fits = match key_column(ordering) {
            None => key.is_none(),
            Some("due_at") => true,
            Some(_) => key.is_some(),
        };
        (fits && id > 0).then_some(Cursor { ordering, key, id })
    }

    /// The SQL condition "sorts after this cursor" in its ordering (as
    /// [`order_by`](super::tasks::order_by) sorts, tasks without a due date last in both
    /// `due_at` orders), with `key` and `id` the placeholders its values are bound to.
    pub(crate) fn after_sql(&self, key: &str, id: &str) -> String {
        let op = if descending(self.ordering) { "<" } else { ">" };
        match (key_column(self.ordering), &self.key) {
            (None, _) => format!("id {op} {id}"),
            (Some("due_at"), None) => format!("(due_at IS NULL AND id {op} {id})"),
            (Some("due_at"), Some(_)) => {
                format!("(due_at IS NULL OR (due_at, id) {op} ({key}, {id}))")
            }
            (Some(column), _) => format!("({column}, id) {op} ({key}, {id})"),
        }
    }
}

/// The cursor after a page whose last row was `last` (its id and key), read when a row
/// beyond the page showed that more follow.
pub(crate) fn next_cursor(
    ordering: Ordering,
    last: Option<(i64, Option<String>)>,
) -> Result<Cursor> {
    let (id, key) = last.ok_or_else(|| StoreError::Other("a page of no rows goes on".into()))?;
    Ok(Cursor { ordering, key, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_only_with_its_ordering() {
        for (ordering, key) in [
            (Ordering::Id, None),
            (Ordering::TitleDesc, Some("a\nb|c é".to_owned())),
            (Ordering::DueAt, None),
            (
                Ordering::DueAtDesc,
                Some("2026-12-01T00:00:00.000000Z".into()),
            ),
        ] {
            let c = Cursor {
                ordering,
                key,
                id: 42,
            };
            let text = c.encode();
            assert_eq!(Cursor::decode(&text, ordering), Some(c));
            assert_eq!(Cursor::decode(&text, Ordering::CreatedAt), None);
        }
    }

    #[test]
    fn forged_cursors_are_refused() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        for (text, ordering) in [
            ("!!!".to_owned(), Ordering::Id),
            (b64("title\n1\nn"), Ordering::Title),
            (b64("id\n1\nsx"), Ordering::Id),
            (b64("id\n-1\nn"), Ordering::Id),
            (b64("id\nx\nn"), Ordering::Id),
            (b64("created_at\n3"), Ordering::CreatedAt),
            (b64("created_at\n3\nqx"), Ordering::CreatedAt),
        ] {
            assert_eq!(Cursor::decode(&text, ordering), None, "{text}");
        }
    }
}
