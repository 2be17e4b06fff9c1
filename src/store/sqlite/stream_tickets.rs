//! Stream tickets on SQLite: minted and redeemed on the writer, so one redemption wins
//! across every process on the file.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::Sqlite;
use crate::store::Result;
use crate::store::StoreError;
use crate::store::stream_tickets::{
    MAX_LIVE_PER_USER, NewStreamTicket, StreamTicketStore, TicketBinding,
};

#[async_trait]
impl StreamTicketStore for Sqlite {
    async fn create_stream_ticket(&self, new: NewStreamTicket, now: f64) -> Result<()> {
        self.write(move |tx| {
            let b = &new.binding;
            let exists: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)")?
                .query_row([b.user_id], |r| r.get(0))?;
            if !exists {
                return Err(StoreError::NotFound);
            }
            tx.prepare_cached(
                "DELETE FROM stream_tickets WHERE user_id = ?1 AND expires_at <= ?2",
            )?
            .execute(params![b.user_id, now])?;
            tx.prepare_cached(
                "INSERT INTO stream_tickets (ticket_hash, user_id, api_token_id, scopes, generation,
                                             credential_expires_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                new.ticket_hash,
                b.user_id,
                b.api_token_id,
                b.scopes.join(" "),
                b.generation,
                b.credential_expires_at,
                new.expires_at
            ])?;
            tx.prepare_cached(
                "DELETE FROM stream_tickets WHERE user_id = ?1 AND ticket_hash IN (
                     SELECT ticket_hash FROM stream_tickets WHERE user_id = ?1
                     ORDER BY expires_at DESC LIMIT -1 OFFSET ?2)",
            )?
            .execute(params![b.user_id, MAX_LIVE_PER_USER])?;
            Ok(())
        })
        .await
    }

    // A ticket not there at all is answered from a reader first, so made-up tickets
    // never queue on the writer.
    async fn redeem_stream_ticket(
        &self,
        ticket_hash: String,
        now: f64,
    ) -> Result<Option<TicketBinding>> {
        let hash = ticket_hash.clone();
        let known: bool = self
            .run(move |c| {
                Ok(c.prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM stream_tickets WHERE ticket_hash = ?1)",
                )?
                .query_row([hash], |r| r.get(0))?)
            })
            .await?;
        if !known {
            return Ok(None);
        }
        self.write(move |tx| {
            let found = tx
                .prepare_cached(
                    "DELETE FROM stream_tickets WHERE ticket_hash = ?1 AND expires_at > ?2
                     RETURNING user_id, api_token_id, scopes, generation, credential_expires_at",
                )?
                .query_row(params![ticket_hash, now], |r| {
                    let scopes: String = r.get(2)?;
                    Ok(TicketBinding {
                        user_id: r.get(0)?,
                        api_token_id: r.get(1)?,
                        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                        generation: r.get(3)?,
                        credential_expires_at: r.get(4)?,
                    })
                })
                .optional()?;
            Ok(found)
        })
        .await
    }

    async fn prune_stream_tickets(&self, now: f64) -> Result<usize> {
        self.write(move |tx| {
            Ok(tx
                .prepare_cached("DELETE FROM stream_tickets WHERE expires_at <= ?1")?
                .execute([now])?)
        })
        .await
    }
}
