//! The live stream of the caller's task events, as a WebSocket and as Server-Sent
//! Events: two renderings of a stream `domain::events::open` gives (within the per-user
//! cap; `Hub::follow` holds the no-gap/no-duplicate logic) until the client goes, the
//! credential expires or is revoked (`domain::events::revoked`), or the server stops.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use poem::web::{
    Data,
    sse::Event as SseEvent,
    websocket::{
        BoxWebSocketUpgraded, CloseCode, Message, WebSocket, WebSocketConfig, WebSocketStream,
    },
};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi, Union,
    param::{Header, Query},
    payload::EventStream,
    types::{Example, ToJSON, Type},
};
use serde_json::Value;
use tokio::time::{Instant, sleep_until, timeout};

use super::ApiTags;
use super::StreamErrors;
use super::stream_auth::StreamCaller;

use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::clock::now_secs;
use crate::domain::FieldErrors;
use crate::domain::events::{self, Opened, Recheck};
use crate::hub::{End, Follower, Item};
use crate::metrics::StreamGuard;
use crate::model::{Project, Task, Timestamp};
use crate::throttle::StreamSlot;

#[derive(Default)]
pub struct StreamApi;

/// WebSocket close codes the server uses.
pub mod close {
    /// The access token expired: reconnect with a fresh token and `since`.
    pub const TOKEN_EXPIRED: u16 = 4001;
    /// The account was deactivated or the API token revoked: log in again.
    pub const REVOKED: u16 = 4003;
    /// The client read too slowly and fell behind: reconnect with `since`.
    pub const TOO_SLOW: u16 = 4008;
    /// The server is shutting down: reconnect (with `since`) later.
    pub const GOING_AWAY: u16 = 1001;
    /// The event history could not be read: reconnect with `since`.
    pub const SERVER_ERROR: u16 = 1011;
}

/// How often an idle socket is pinged; a peer silent for three of these is dropped.
const PING_EVERY: Duration = Duration::from_secs(20);

/// Most events one write to a socket carries.
const SEND_BATCH: usize = 64;

// The document's description of `hub::Item`, which is what is sent, serialised once.
/// One message of the stream.
#[derive(Object, Debug)]
#[oai(example)]
pub struct StreamMessage {
    /// This event's id: 1, 2, 3… per user, in commit order. Resume with `since=<event_id>`
    /// (WebSocket) or `Last-Event-ID` (SSE).
    pub event_id: i64,
    // What happened. (No doc comment: it would wrap the enum's `$ref` in an `allOf`.)
    pub action: StreamAction,
    // What changed: the task after the change (for a delete: as it was); for `project`,
    // the project as you now see it; for `project_removed`, `{"id"}` of the project;
    // absent on `reset`. (No doc comment: it would wrap the `$ref` in an `allOf`.)
    #[oai(skip_serializing_if_is_none)]
    pub task: Option<StreamSubject>,
    /// When the change was committed. Absent on `reset`.
    #[oai(skip_serializing_if_is_none)]
    pub at: Option<Timestamp>,
}

impl Example for StreamMessage {
    fn example() -> Self {
        StreamMessage {
            event_id: 7,
            action: StreamAction::Update,
            task: Some(StreamSubject::Task(Task {
                completed: true,
                updated_at: "2026-11-25T12:03:10.000512Z".into(),
                version: 2,
                ..Task::example()
            })),
            at: Some("2026-11-25T12:03:10.000512Z".into()),
        }
    }
}

/// What a stream message says: a task was created, updated or deleted; `project`: you
/// joined a project, or your view of it changed (renamed, your role changed, transferred),
/// and `task` holds the project as you now see it (one you did not know: list
/// `/api/projects/`); `project_removed`: you no longer belong to the project `task.id`
/// (you left or were removed, or it was deleted); or `reset`: the requested `since` is
/// older than the kept history (or unknown), so re-list your tasks; events continue after
/// `event_id`.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum StreamAction {
    Create,
    Update,
    Delete,
    Project,
    #[oai(rename = "project_removed")]
    ProjectRemoved,
    Reset,
}

/// A project you no longer belong to.
#[derive(Object, Debug)]
pub struct RemovedProject {
    /// The project's id.
    pub id: i64,
}

/// What a stream message carries in `task`: a task for `create`, `update` and `delete`,
/// a project for `project`, a project's id for `project_removed`. `anyOf`, not `oneOf`:
/// a project's id alone also reads as the start of the others; `action` says which.
#[derive(Union, Debug)]
pub enum StreamSubject {
    Task(Task),
    Project(Project),
    ProjectRemoved(RemovedProject),
}

#[OpenApi(tag = "ApiTags::Stream")]
impl StreamApi {
    /// Live task events over a WebSocket
    ///
    /// Authenticate with `Authorization: Bearer <access or tlp_ API token>` or, from a
    /// browser (which cannot set headers on a WebSocket), with `?ticket=<ticket>`, a
    /// single-use ticket from `POST /api/stream-tickets/`. A missing, bad, expired or
    /// already used credential is a 401 and no socket. No credential goes in the URL:
    /// `?token=` is refused (401 `token_in_url`; the operator's deprecated
    /// `--allow-token-in-url` still lets an access token through there), a personal API
    /// token in any query parameter always, and so is a request with more than one
    /// credential (401 `multiple_credentials`).
    ///
    /// Messages are JSON: `{"event_id": 42, "action": "create"|"update"|"delete", "task": {…}, "at": "…"}`.
    /// Only the owner of a task receives its events. Membership changes of shared
    /// projects come as `project` (the project as you now see it, in `task`) and
    /// `project_removed` (`{"id"}`); on a `project` for a project you did not know, list
    /// it. With `since`, every event after that
    /// id is replayed first, then live events follow, with no gap and no duplicate. A
    /// `since` older than the kept history yields `{"event_id": N, "action": "reset"}`:
    /// re-list your tasks. Frames a client sends are ignored; the server pings every 20 s.
    ///
    /// A user may hold a limited number of streams open at once, WebSockets and SSE
    /// together (32 by default); past it the upgrade is refused with 429 and
    /// `Retry-After`. A client that stops reading for 10 s is disconnected.
    ///
    /// Close codes: **4001** the access token expired (reconnect with a fresh token and
    /// `since`); **4003** access was revoked (the account deactivated, its password
    /// changed, or the API token revoked: log in again); **4008** the client read too
    /// slowly (reconnect with `since`); **1001** the server is shutting down; **1011**
    /// server error.
    #[oai(path = "/ws/tasks", method = "get", operation_id = "stream_tasks_ws")]
    async fn stream_tasks_ws(
        &self,
        state: Data<&AppState>,
        caller: StreamCaller,
        /// A single-use ticket from `POST /api/stream-tickets/`, for browsers.
        #[oai(name = "ticket")]
        _ticket: Query<Option<String>>,
        /// Deprecated, refused unless the server runs with `--allow-token-in-url` (to go
        /// in the next minor release): an access token. Use `ticket`.
        #[oai(name = "token", deprecated)]
        _token: Query<Option<String>>,
        /// Replay your events after this event id first.
        #[oai(validator(minimum(value = "0")))]
        since: Query<Option<i64>>,
        ws: WebSocket,
    ) -> Result<BoxWebSocketUpgraded, StreamErrors> {
        let StreamCaller(caller) = caller;
        caller.require(Scope::TasksRead)?;
        let no_errors = FieldErrors::default();
        let Opened { follower, slot } = events::open(
            &state.hub,
            &state.streams,
            caller.user.id,
            since.0,
            no_errors,
        )
        .await?;
        let state = state.0.clone();
        Ok(ws
            .config(
                WebSocketConfig::default()
                    .read_buffer_size(4096)
                    .write_buffer_size(0)
                    .max_message_size(Some(64 << 10))
                    .max_frame_size(Some(64 << 10)),
            )
            .on_upgrade(move |socket| run_socket(socket, follower, state, caller, slot))
            .boxed())
    }

    /// Live task events as Server-Sent Events
    ///
    /// The twin of the WebSocket for HTTP clients: each event's `id:` is its `event_id`,
    /// so reconnecting with `Last-Event-ID` resumes without a gap. A `reset` arrives as
    /// `event: reset`. The stream ends when the access token expires, and when the client
    /// stops reading for 10 s. It counts against the same per-user limit as WebSockets:
    /// past it, 429 with `Retry-After`.
    ///
    /// Authenticate with `Authorization: Bearer <access or tlp_ API token>` or, from a
    /// browser's `EventSource` (which cannot set headers), with `?ticket=<ticket>`, a
    /// single-use ticket from `POST /api/stream-tickets/`. No credential goes in the URL:
    /// `?token=` is refused (401 `token_in_url`; the operator's deprecated
    /// `--allow-token-in-url` still lets an access token through there), a personal API
    /// token in any query parameter always, and so is a request with more than one
    /// credential (401 `multiple_credentials`). An `EventSource`'s own reconnection
    /// reuses its URL, whose ticket is spent: on `error`, close it and open a new one with
    /// a fresh ticket and `since=<last event id>`.
    #[oai(
        path = "/api/events",
        method = "get",
        operation_id = "stream_tasks_sse"
    )]
    async fn stream_tasks_sse(
        &self,
        state: Data<&AppState>,
        caller: StreamCaller,
        /// A single-use ticket from `POST /api/stream-tickets/`, for `EventSource`.
        #[oai(name = "ticket")]
        _ticket: Query<Option<String>>,
        /// Deprecated, refused unless the server runs with `--allow-token-in-url` (to go
        /// in the next minor release): an access token. Use `ticket`.
        #[oai(name = "token", deprecated)]
        _token: Query<Option<String>>,
        /// Resume after this event id (set by `EventSource` on reconnect).
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
        /// Resume after this event id (when `Last-Event-ID` is not sent).
        #[oai(validator(minimum(value = "0")))]
        since: Query<Option<i64>>,
    ) -> Result<SseResponse, StreamErrors> {
        let StreamCaller(caller) = caller;
        caller.require(Scope::TasksRead)?;
        let mut errors = FieldErrors::default();
        let since = match last_event_id.0 {
            Some(id) => match id.trim().parse::<i64>() {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.add("Last-Event-ID", "A valid integer is required.");
                    None
                }
            },
            None => since.0,
        };
        let Opened { follower, slot } =
            events::open(&state.hub, &state.streams, caller.user.id, since, errors).await?;
        let state = state.0.clone();
        let recheck = recheck(&state);
        let mut shutdown = state.shutdown.subscribe();
        let expiry = sleep_until(instant_at(caller.expires_at));
        // The follower, the gauge and the slot live as long as the body: until the
        // stream ends or the connection closes (a client that stops reading is cut off
        // by the send deadline, see `web::deadline`).
        let open = (StreamGuard::new(&state.metrics, "sse"), slot);
        let delivered = state.metrics.events_delivered.clone();
        let stream = futures_util::stream::unfold((follower, open), |(mut f, open)| async move {
            let item = f.next().await.ok()?;
            Some((SseItem(item), (f, open)))
        })
        .take_until(async move {
            tokio::select! {
                _ = expiry => {},
                _ = shutting_down(&mut shutdown) => {},
                _ = events::revoked(&recheck, &caller) => {},
            }
        })
        .boxed();
        Ok(SseResponse::Events(
            EventStream::new(stream)
                .keep_alive(Duration::from_secs(15))
                .to_event(move |SseItem(item)| {
                    let event = SseEvent::message(item.json()).id(item.event_id().to_string());
                    match item {
                        Item::Event(_) => {
                            delivered.inc();
                            event
                        }
                        Item::Reset { .. } => event.event_type("reset"),
                    }
                }),
        ))
    }
}

#[derive(ApiResponse)]
pub enum SseResponse {
    /// The stream: per task change an event whose `id:` is its `event_id` and whose
    /// `data:` is a `StreamMessage`; `event: reset` when `since` is older than the kept
    /// history; a comment line every 15 s to keep the connection open.
    #[oai(status = 200)]
    Events(EventStream<futures_util::stream::BoxStream<'static, SseItem>>),
}

/// What a stream needs to notice its credential ending.
fn recheck(state: &AppState) -> Recheck {
    Recheck {
        authenticator: state.authenticator(),
        account_changes: state.account_changes.clone(),
        every: state.limits.stream_recheck,
    }
}

/// Resolves once the server starts shutting down.
async fn shutting_down(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|down| *down).await.map(|_| ());
}

/// The tokio instant at unix second `at` (at most a year ahead).
fn instant_at(at: i64) -> Instant {
    let secs = u64::try_from(at.saturating_sub(now_secs())).unwrap_or(0);
    Instant::now() + Duration::from_secs(secs.min(365 * 24 * 3600))
}

/// One socket: send the follower's items, ping, and close with a code that tells the
/// client what to do.
async fn run_socket(
    socket: WebSocketStream,
    mut follower: Follower,
    state: AppState,
    caller: Caller,
    _slot: StreamSlot,
) {
    let _open = StreamGuard::new(&state.metrics, "websocket");
    // How long one frame may take to reach the client before it counts as too slow.
    let send_timeout = state.limits.send_timeout;
    let mut shutdown = state.shutdown.subscribe();
    let (mut sink, mut incoming) = socket.split();
    let expiry = sleep_until(instant_at(caller.expires_at));
    tokio::pin!(expiry);
    let recheck = recheck(&state);
    let revocation = events::revoked(&recheck, &caller);
    tokio::pin!(revocation);
    let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut last_heard = Instant::now();
    let close = loop {
        tokio::select! {
            item = follower.next() => {
                let first = match item {
                    Ok(item) => item,
                    Err(End::Lagged) => break Some((close::TOO_SLOW, "too slow")),
                    Err(End::Store(e)) => {
                        tracing::error!(error = %e, "stream: outbox read failed");
                        break Some((close::SERVER_ERROR, "server error"));
                    }
                };
                // This item and those already at hand (a batch's commit publishes many
                // at once) go out in one write: one flush per batch, not per frame.
                let batch = std::iter::once(first)
                    .chain(std::iter::from_fn(|| follower.try_next()))
                    .take(SEND_BATCH);
                let frames: Vec<Message> =
                    batch.map(|item| Message::Text(item.json().into_owned())).collect();
                let n = frames.len() as u64;
                let mut frames = futures_util::stream::iter(frames.into_iter().map(Ok));
                match timeout(send_timeout, sink.send_all(&mut frames)).await {
                    Ok(Ok(())) => state.metrics.events_delivered.inc_by(n),
                    Ok(Err(_)) => break None,
                    Err(_) => break Some((close::TOO_SLOW, "too slow")),
                }
            }
            msg = incoming.next() => match msg {
                // Client frames are never broadcast or acted on; pongs to our pings and
                // any other frame show the peer is alive.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                Some(Ok(_)) => last_heard = Instant::now(),
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > PING_EVERY * 3 {
                    break None;
                }
                if timeout(send_timeout, sink.send(Message::Ping(Vec::new()))).await.is_err() {
                    break None;
                }
            }
            _ = &mut expiry => break Some((close::TOKEN_EXPIRED, "token expired")),
            _ = &mut revocation => break Some((close::REVOKED, "access revoked")),
            _ = shutting_down(&mut shutdown) => break Some((close::GOING_AWAY, "server shutting down")),
        }
    };
    if let Some((code, why)) = close {
        let reason = format!("{why}; resume with since={}", follower.cursor());
        let _ = timeout(
            Duration::from_secs(2),
            sink.send(Message::Close(Some((CloseCode::from(code), reason)))),
        )
        .await;
    }
    let _ = timeout(Duration::from_secs(2), sink.close()).await;
}

/// An item of the SSE stream, documented as a [`StreamMessage`].
pub struct SseItem(Item);

impl Type for SseItem {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> std::borrow::Cow<'static, str> {
        StreamMessage::name()
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        StreamMessage::schema_ref()
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        StreamMessage::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ToJSON for SseItem {
    fn to_json(&self) -> Option<Value> {
        serde_json::from_str(&self.0.json()).ok()
    }
}
