//! Incremental sync over plain REST: the caller's events after a cursor, from the same
//! outbox the stream replays.

use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json, types::ParseFromJSON};

use super::{ApiTags, QueryErrors};

use super::stream::StreamMessage;
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::error::ApiError;

#[derive(Default)]
pub struct ChangesApi;

/// A page stops early (with `more`) once its events add up to this many bytes of JSON, so
/// that a page of large tasks cannot take unbounded memory.
const PAGE_BYTES: usize = 1 << 20;

/// A page of changes.
#[derive(Object, Debug)]
pub struct ChangesPage {
    /// Events after `since`, oldest first — or a single `reset` message when `since` is
    /// older than the kept history (or unknown): then re-list your tasks and continue
    /// from `cursor`.
    pub events: Vec<StreamMessage>,
    /// Pass as `since` next time.
    pub cursor: i64,
    /// Whether more events are waiting (ask again at once). A page of large tasks may
    /// stop before `limit` (at about 1 MB); then `more` is true.
    pub more: bool,
}

#[OpenApi(tag = "ApiTags::Stream")]
impl ChangesApi {
    /// Your task changes since an event id
    ///
    /// For scripts and offline clients: keep the returned `cursor`, pass it as `since`
    /// next time, and apply the events in order (each carries the full task, so applying
    /// one twice is harmless). `GET /api/tasks/`'s `X-Last-Event-Id` is a good first
    /// cursor.
    #[oai(path = "/api/changes", method = "get", operation_id = "list_changes")]
    async fn list_changes(
        &self,
        state: Data<&AppState>,
        caller: Caller,
        /// The last event id you have applied (0: from the start).
        #[oai(validator(minimum(value = "0")))]
        since: Query<i64>,
        /// At most this many events, 1 to 1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u32>>,
    ) -> Result<Json<ChangesPage>, QueryErrors> {
        caller.require(Scope::TasksRead)?;
        let since = since.0;
        let limit = limit.0.unwrap_or(100);
        let at = state.store.event_cursor(caller.user.id).await?;
        if since < at.pruned_through || since > at.last {
            return Ok(Json(ChangesPage {
                events: vec![StreamMessage::reset(at.last)],
                cursor: at.last,
                more: false,
            }));
        }
        let events = state
            .store
            .events_after(caller.user.id, since, limit, PAGE_BYTES)
            .await?;
        let cursor = events.last().map_or(since, |e| e.id);
        let events = events
            .iter()
            .map(|e| {
                let value = serde_json::from_str(&e.json).map_err(ApiError::internal)?;
                StreamMessage::parse_from_json(Some(value))
                    .map_err(|e| ApiError::internal(e.into_message()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Json(ChangesPage {
            more: cursor < at.last,
            events,
            cursor,
        }))
    }
}
