//! What the operator commands (`tasklane user …`, `backup`, `migrate`) ask of the database.
//!
//! They run in their own process next to a live server on the same file: every write is
//! one short `BEGIN IMMEDIATE` transaction (through [`Sqlite::write`], queueing on the busy
//! timeout), and the backup reads one WAL snapshot while the server keeps writing.

use async_trait::async_trait;

use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::{BUSY_TIMEOUT, MIGRATIONS, Sqlite};
use crate::store::admin::{AccountChange, AccountSummary, AdminStore, Ended};
use crate::store::{Result, StoreError};

/// The schema version this binary migrates databases to.
pub fn latest_schema_version() -> i64 {
    MIGRATIONS.len() as i64
}

#[async_trait]
impl AdminStore for Sqlite {
    fn latest_schema_version(&self) -> i64 {
        latest_schema_version()
    }

    async fn list_accounts(&self) -> Result<Vec<AccountSummary>> {
        self.run(|c| {
            let mut stmt = c.prepare(
                "SELECT id, username, email, is_active FROM users
                 WHERE deleted_at IS NULL ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(AccountSummary {
                    id: r.get(0)?,
                    username: r.get(1)?,
                    email: r.get(2)?,
                    is_active: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn any_account(&self) -> Result<bool> {
        self.run(|c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM users WHERE deleted_at IS NULL)",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    // `PRAGMA user_version`.
    async fn schema_version(&self) -> Result<i64> {
        self.run(|c| Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
            .await
    }

    // See [`end_credentials`].
    async fn set_password_hash(
        &self,
        username: String,
        password_hash: String,
        now: f64,
    ) -> Result<AccountChange> {
        self.write(move |tx| {
            let user_id: i64 = tx
                .query_row(
                    "UPDATE users SET password_hash = ?1
                     WHERE username = ?2 AND deleted_at IS NULL RETURNING id",
                    params![password_hash, username],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or(StoreError::NotFound)?;
            let ended = end_credentials(tx, user_id, now)?;
            Ok(AccountChange {
                user_id,
                changed: true,
                revoked_tokens: ended.refresh,
                revoked_api_tokens: ended.api,
            })
        })
        .await
    }

    // See [`end_credentials`].
    async fn set_account_active(
        &self,
        username: String,
        active: bool,
        now: f64,
    ) -> Result<AccountChange> {
        self.write(move |tx| {
            let (user_id, was_active): (i64, bool) = tx
                .query_row(
                    "SELECT id, is_active FROM users WHERE username = ?1 AND deleted_at IS NULL",
                    [&username],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .ok_or(StoreError::NotFound)?;
            if was_active != active {
                tx.execute(
                    "UPDATE users SET is_active = ?1 WHERE id = ?2",
                    params![active, user_id],
                )?;
            }
            let ended = if active {
                Ended::default()
            } else {
                end_credentials(tx, user_id, now)?
            };
            Ok(AccountChange {
                user_id,
                changed: was_active != active,
                revoked_tokens: ended.refresh,
                revoked_api_tokens: ended.api,
            })
        })
        .await
    }
}

/// Ends every credential of `user_id` issued up to now: revokes its live refresh tokens
/// and personal API tokens, and moves its credentials generation on, so every access and
/// refresh token issued at an earlier one is refused. A login or a refresh checks the
/// generation in its own write, so none issued alongside this change outlives it. Other
/// processes see it at once when told (the hub's account changes), else within the
/// account cache's lifetime (one second).
pub(crate) fn end_credentials(tx: &rusqlite::Transaction, user_id: i64, now: f64) -> Result<Ended> {
    let refresh = tx.execute(
        "UPDATE refresh_tokens SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL",
        params![now, user_id],
    )?;
    let api = tx.execute(
        "UPDATE api_tokens SET revoked_at = ?1 WHERE user_id = ?2 AND revoked_at IS NULL",
        params![crate::clock::now_timestamp(), user_id],
    )?;
    tx.execute(
        "UPDATE users SET credentials_generation = credentials_generation + 1 WHERE id = ?1",
        params![user_id],
    )?;
    Ok(Ended { refresh, api })
}

/// Opens an existing database file without creating it and without migrating it.
fn open_existing(path: &Path) -> Result<Connection> {
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.busy_timeout(BUSY_TIMEOUT)?;
    Ok(c)
}

/// The `user_version` of the database at `path`, without migrating it; `None` when the
/// file does not exist yet.
pub fn schema_version_of(path: &Path) -> Result<Option<i64>> {
    if !path
        .try_exists()
        .map_err(|e| StoreError::Other(e.to_string()))?
    {
        return Ok(None);
    }
    let c = open_existing(path)?;
    Ok(Some(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
}

/// How far a backup has come, after each step.
#[derive(Clone, Copy, Debug)]
pub struct BackupProgress {
    pub copied_pages: u64,
    pub total_pages: u64,
    pub page_size: u64,
}

/// How to pace a backup.
#[derive(Clone, Copy, Debug)]
pub struct BackupPacing {
    /// Pages copied per step.
    pub pages_per_step: i32,
    /// Pause between steps, leaving the disk to the live server.
    pub pause: Duration,
}

/// Copies the live database `src` into the new file `dest` with SQLite's online backup
/// API, `pacing.pages_per_step` pages at a time, calling `progress` after each step.
///
/// The whole copy reads one snapshot: a read transaction is held on the source for its
/// duration, so in WAL mode the server keeps committing while the copy stays consistent
/// (and never restarts, as a backup does when another connection writes between steps).
/// The copy is left in rollback-journal mode, a single self-contained file. `src` is
/// neither created nor migrated: a backup taken before an upgrade is the old schema.
pub fn backup_database(
    src: &Path,
    dest: &Path,
    pacing: BackupPacing,
    mut progress: impl FnMut(BackupProgress),
) -> Result<()> {
    let source = open_existing(src)?;
    let page_size: i64 = source.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    source.execute_batch("BEGIN DEFERRED")?;
    // The snapshot starts at the first read.
    source.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
    let copied = copy_pages(&source, dest, pacing, page_size, &mut progress);
    // Ending a read-only transaction cannot lose anything; report the copy's outcome.
    let _ = source.execute_batch("ROLLBACK");
    copied
}

fn copy_pages(
    source: &Connection,
    dest: &Path,
    pacing: BackupPacing,
    page_size: i64,
    progress: &mut impl FnMut(BackupProgress),
) -> Result<()> {
    // A backup holds every password hash and the signing secret: owner-only, like the
    // database itself.
    super::create_private(dest)?;
    let mut target = Connection::open(dest)?;
    {
        let backup = Backup::new(source, &mut target)?;
        let pause = pacing.pause.max(Duration::from_millis(1));
        let max_waits = (BUSY_TIMEOUT.as_millis() / pause.as_millis()).max(1);
        let mut waits = 0;
        loop {
            let step = backup.step(pacing.pages_per_step.max(1))?;
            let p = backup.progress();
            let total = p.pagecount.max(0) as u64;
            progress(BackupProgress {
                copied_pages: total.saturating_sub(p.remaining.max(0) as u64),
                total_pages: total,
                page_size: page_size.max(0) as u64,
            });
            match step {
                StepResult::Done => break,
                StepResult::More => waits = 0,
                _ => {
                    waits += 1;
                    if waits > max_waits {
                        return Err(StoreError::Other(
                            "backup: the database stayed locked".into(),
                        ));
                    }
                }
            }
            std::thread::sleep(pause);
        }
    }
    // The pages carry the source's WAL flag; make the copy one self-contained file.
    let mode: String =
        target.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::Other(format!(
            "backup: could not leave WAL mode (journal_mode is {mode})"
        )));
    }
    target.close().map_err(|(_, e)| StoreError::from(e))?;
    Ok(())
}

/// `PRAGMA integrity_check` of the database file at `path`: `["ok"]` when sound, else
/// the problems found (at most 100).
pub fn integrity_check(path: &Path) -> Result<Vec<String>> {
    let c = open_existing(path)?;
    let mut stmt = c.prepare("PRAGMA integrity_check")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
