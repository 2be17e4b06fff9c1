//! Incremental sync over plain REST: the caller's events after a cursor, from the same
//! outbox the stream replays (`domain::events::changes`), written out as a page.

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Query};

use super::{ApiTags, QueryErrors};

use super::json::PrebuiltJson;
use super::stream::StreamMessage;
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::domain::events;

#[derive(Default)]
pub struct ChangesApi;

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

#[derive(ApiResponse)]
pub enum ChangesResponse {
    /// A page of your changes.
    #[oai(status = 200)]
    Ok(PrebuiltJson<ChangesPage>),
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
    ) -> Result<ChangesResponse, QueryErrors> {
        caller.require(Scope::TasksRead)?;
        let limit = limit.0.unwrap_or(100);
        let page = events::changes(&state.hub, caller.user.id, since.0, limit).await?;
        // The events are already JSON: the page is written around them, not re-encoded.
        let mut body = String::from(r#"{"events":["#);
        for (i, item) in page.items.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&item.json());
        }
        body.push_str(&format!(
            r#"],"cursor":{},"more":{}}}"#,
            page.cursor, page.more
        ));
        Ok(ChangesResponse::Ok(PrebuiltJson::new(body.into_bytes())))
    }
}
