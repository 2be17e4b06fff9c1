//! `POST /api/stream-tickets/`: a short-lived, single-use ticket for a stream's URL, so
//! that a browser (which cannot set headers on a WebSocket or an `EventSource`) never puts
//! a credential in a URL.

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json, types::Example};

use super::{ApiTags, ReadErrors};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::domain::stream_tickets;
use crate::model::Timestamp;

#[derive(Default)]
pub struct TicketsApi;

/// A stream ticket: pass it as `?ticket=` to `GET /ws/tasks/` or `GET /api/events/`.
#[derive(Object, Debug)]
#[oai(example)]
pub struct StreamTicket {
    /// The ticket (`tlt_…`). It opens one stream, once, within `expires_in` seconds; the
    /// stream then acts, and is re-checked, as the credential that asked for the ticket.
    pub ticket: String,
    /// When it can no longer be used.
    pub expires_at: Timestamp,
    /// Seconds it can be used for (30).
    pub expires_in: u64,
}

impl Example for StreamTicket {
    fn example() -> Self {
        StreamTicket {
            ticket: "tlt_Qm3vX9aLr2Tz8KpW5cYd1NfB7hJs4GuE0oRiVx6M".into(),
            expires_at: "2026-11-25T12:00:30.000000Z".into(),
            expires_in: 30,
        }
    }
}

#[derive(ApiResponse)]
pub enum CreateTicketResponse {
    /// The ticket. Nothing about it is cached (`Cache-Control: no-store`).
    #[oai(status = 201)]
    Created(Json<StreamTicket>),
}

#[OpenApi(tag = "ApiTags::Stream")]
impl TicketsApi {
    /// Get a single-use ticket for a stream's URL
    ///
    /// Browsers cannot set headers on a WebSocket or an `EventSource`, and a URL ends up
    /// in proxy logs and browser history, so no credential goes in one. Ask for a ticket
    /// with your credential in `Authorization` (a session's access token, or a personal
    /// API token with `tasks:read` or `tasks:write`), then open
    /// `/ws/tasks/?ticket=<ticket>` or `/api/events/?ticket=<ticket>` within 30 s.
    ///
    /// A ticket opens one stream and is then spent: a second use, an expired ticket or a
    /// made-up one is a 401 `ticket_not_valid` and no stream. The stream acts as the
    /// credential that asked for the ticket, with its scopes, and ends as that credential
    /// would: when the access token expires (close code 4001), or when the API token is
    /// revoked, the password changed or the account deactivated (4003). Get a new ticket
    /// for each (re)connection. A user holds at most 64 unused tickets; asking for more
    /// drops the oldest.
    #[oai(
        path = "/api/stream-tickets",
        method = "post",
        operation_id = "create_stream_ticket"
    )]
    async fn create_stream_ticket(
        &self,
        state: Data<&AppState>,
        caller: Caller,
    ) -> Result<CreateTicketResponse, ReadErrors> {
        caller.require(Scope::TasksRead)?;
        let minted = stream_tickets::mint(&state.store, &caller).await?;
        Ok(CreateTicketResponse::Created(Json(StreamTicket {
            ticket: minted.ticket,
            expires_at: minted.expires_at.into(),
            expires_in: minted.expires_in,
        })))
    }
}
