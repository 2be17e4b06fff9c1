//! Stream tickets on PostgreSQL: one `DELETE … RETURNING` redeems a ticket, so one
//! redemption wins across every host.

use async_trait::async_trait;

use super::Postgres;
use crate::store::stream_tickets::{
    MAX_LIVE_PER_USER, NewStreamTicket, StreamTicketStore, TicketBinding,
};
use crate::store::{Result, StoreError};

#[async_trait]
impl StreamTicketStore for Postgres {
    // Under the user's row lock (the user row first, as every write of a user's rows),
    // so concurrent mints cannot overshoot the bound.
    async fn create_stream_ticket(&self, new: NewStreamTicket, now: f64) -> Result<()> {
        let b = &new.binding;
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let stmt = tx
            .prepare_cached("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
            .await?;
        if tx.query_opt(&stmt, &[&b.user_id]).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        let stmt = tx
            .prepare_cached("DELETE FROM stream_tickets WHERE user_id = $1 AND expires_at <= $2")
            .await?;
        tx.execute(&stmt, &[&b.user_id, &now]).await?;
        let stmt = tx
            .prepare_cached(
                "INSERT INTO stream_tickets (ticket_hash, user_id, api_token_id, scopes, generation,
                                             credential_expires_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .await?;
        tx.execute(
            &stmt,
            &[
                &new.ticket_hash,
                &b.user_id,
                &b.api_token_id,
                &b.scopes.join(" "),
                &b.generation,
                &b.credential_expires_at,
                &new.expires_at,
            ],
        )
        .await?;
        let stmt = tx
            .prepare_cached(
                "DELETE FROM stream_tickets WHERE ticket_hash IN (
                     SELECT ticket_hash FROM stream_tickets WHERE user_id = $1
                     ORDER BY expires_at DESC OFFSET $2)",
            )
            .await?;
        tx.execute(&stmt, &[&b.user_id, &MAX_LIVE_PER_USER]).await?;
        self.commit(tx).await
    }

    async fn redeem_stream_ticket(
        &self,
        ticket_hash: String,
        now: f64,
    ) -> Result<Option<TicketBinding>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "DELETE FROM stream_tickets WHERE ticket_hash = $1 AND expires_at > $2
                 RETURNING user_id, api_token_id, scopes, generation, credential_expires_at",
            )
            .await?;
        let row = c.query_opt(&stmt, &[&ticket_hash, &now]).await?;
        self.committed();
        let Some(r) = row else {
            return Ok(None);
        };
        let scopes: &str = r.try_get(2)?;
        Ok(Some(TicketBinding {
            user_id: r.try_get(0)?,
            api_token_id: r.try_get(1)?,
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            generation: r.try_get(3)?,
            credential_expires_at: r.try_get(4)?,
        }))
    }

    // Rows another transaction holds are skipped (the next sweep takes them), so the
    // sweep never waits.
    async fn prune_stream_tickets(&self, now: f64) -> Result<usize> {
        let c = self.client().await?;
        let gone = c
            .execute(
                "DELETE FROM stream_tickets WHERE ticket_hash IN (
                     SELECT ticket_hash FROM stream_tickets WHERE expires_at <= $1
                     FOR UPDATE SKIP LOCKED)",
                &[&now],
            )
            .await?;
        self.committed();
        Ok(gone as usize)
    }
}
