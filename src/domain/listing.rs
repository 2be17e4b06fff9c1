//! The task list, served from rendered pages that are checked against the database on
//! every read.
//!
//! The list is the hottest read. Rendering a page (stepping the rows, writing 15 KB of
//! JSON on a blocking thread) costs far more than knowing whether it changed: every change
//! to a task a user sees (theirs, or any member's in a project of theirs) writes them an
//! event and so moves their `users.event_seq` in the same transaction, as does every
//! change of what they see (joining, leaving, a task moved in or out); a co-member's new
//! username, shown in the list as a creator or an assignee, moves their `list_epoch` in
//! the rename's transaction. A page rendered at version N (the sum of the two, which only
//! grow) is the page as long as the user's version is still N. Each read takes
//! that one indexed point read (SQLite: on the calling thread when a connection is idle;
//! PostgreSQL: in one query with the other reads waiting at the time; see
//! [`Store::event_seq`]) and serves the kept page when it matches: fresh whoever wrote,
//! this process, another process or host on the same database, or the CLI, with or
//! without Redis.
//!
//! Pages are kept per (user as shown, filters, order, limit, offset, cursor) in a cache bounded
//! in bytes; the user's JSON is part of the key because it is part of every task.
//!
//! [`Store::event_seq`]: crate::store::tasks::TaskStore::event_seq

use std::sync::Arc;

use bytes::Bytes;
use sha2::Digest;

use crate::model::User;
use crate::store::keyset::Cursor;
use crate::store::tasks::TaskQuery;
use crate::store::{Result, Store};

/// One rendered page of a user's list.
#[derive(Debug)]
pub struct ListPage {
    /// The tasks, as a JSON array.
    pub json: Bytes,
    /// How many tasks the page has.
    pub count: usize,
    /// How many tasks match in all, when it is known (see `TaskPage::total`).
    pub total: Option<u64>,
    /// `total` is the bound a filtered list is counted to, and more match.
    pub total_capped: bool,
    /// Where the next page starts, when more tasks follow.
    pub next: Option<Cursor>,
    /// The user's last event id as of this page.
    pub last_event_id: i64,
    /// The user's list version as of this page (their last event id plus their
    /// `list_epoch`): what a kept page is checked against.
    pub list_version: i64,
    /// A strong validator of the whole answer (body, total and last event id), quoted.
    pub etag: String,
}

#[derive(Hash, PartialEq, Eq)]
struct Key {
    owner: User,
    query: TaskQuery,
}

/// Kept pages, bounded in bytes.
#[derive(Clone)]
pub struct Listing {
    pages: Option<moka::sync::Cache<Arc<Key>, Arc<ListPage>>>,
}

impl Listing {
    /// Keeps at most about `max_bytes` of pages; `0` keeps none (every read renders).
    pub fn new(max_bytes: u64) -> Listing {
        let pages = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|key: &Arc<Key>, page: &Arc<ListPage>| {
                    let key = key.owner.username.len() + key.owner.email.len() + 128;
                    u32::try_from(page.json.len() + page.etag.len() + key).unwrap_or(u32::MAX)
                })
                .build()
        });
        Listing { pages }
    }

    /// The page `query` selects of `owner`'s tasks, as of now.
    pub async fn page(
        &self,
        store: &Store,
        owner: User,
        query: TaskQuery,
    ) -> Result<Arc<ListPage>> {
        let Some(pages) = &self.pages else {
            return render(store, owner, query).await.map(Arc::new);
        };
        let key = Arc::new(Key { owner, query });
        if let Some(kept) = pages.get(&key)
            && store.event_seq(key.owner.id).await? == kept.list_version
        {
            return Ok(kept);
        }
        let page = Arc::new(render(store, key.owner.clone(), key.query.clone()).await?);
        pages.insert(key, page.clone());
        Ok(page)
    }
}

async fn render(store: &Store, owner: User, query: TaskQuery) -> Result<ListPage> {
    let page = store.list_tasks(owner, query).await?;
    let mut hash = sha2::Sha256::new();
    hash.update(page.last_event_id.to_le_bytes());
    match page.total {
        Some(total) => hash.update(total.to_le_bytes()),
        None => hash.update(b"none"),
    }
    hash.update([u8::from(page.total_capped)]);
    hash.update(&page.json);
    let etag = format!("\"l{}\"", hex::encode(&hash.finalize()[..16]));
    Ok(ListPage {
        json: Bytes::from(page.json),
        count: page.count,
        total: page.total,
        total_capped: page.total_capped,
        next: page.next,
        last_event_id: page.last_event_id,
        list_version: page.list_version,
        etag,
    })
}
