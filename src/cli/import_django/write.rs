//! The import's writing: the original's rows made into tasklane's with the named row
//! builders of [`crate::store::copy`], and sent in chunks to the target's import, which
//! writes them all in one transaction or nothing.

use std::io::{IsTerminal, Write};

use tokio::sync::mpsc;

use super::Fail;
use crate::domain::validators::normalize_username;
use crate::store::copy::{Chunk, Chunker, SettingRow, Target, TaskRow, UserRow};
use crate::store::django::{DjangoTask, DjangoUser, Original};
use crate::store::tokens::IMPORTED_AT;
use crate::store::users::FIRST_GENERATION;
use crate::store::{Store, StoreError};

/// Writes the accounts and tasks in one transaction on the target, with the id
/// high-water marks past the original's ([`Original::high_water`]). With `progress`, a
/// large import shows how far it is on a terminal.
pub(super) async fn write(target: &Store, o: Original, progress: bool) -> Result<(), Fail> {
    let (users_seq, tasks_seq) = o.high_water();
    let (tx, rx) = mpsc::channel(4);
    let writer = {
        let target = target.clone();
        tokio::spawn(async move { target.import(rx, Target::NoAccounts).await })
    };
    let total = o.users.len() + o.tasks.len();
    let terminal = progress && std::io::stderr().is_terminal() && total > 20_000;
    let mut sent = 0;
    let send = async {
        let imported_at = SettingRow {
            key: IMPORTED_AT.into(),
            value: crate::clock::now_secs().to_string(),
        };
        tx.send(Chunk::Rows {
            table: SettingRow::TABLE,
            rows: vec![imported_at.into_cells()],
        })
        .await?;
        let mut chunker = Chunker::new(UserRow::TABLE);
        for u in o.users {
            if let Some(chunk) = chunker.push(user_row(u).into_cells()) {
                tx.send(chunk).await?;
            }
        }
        if let Some(chunk) = chunker.take() {
            tx.send(chunk).await?;
        }
        let mut chunker = Chunker::new(TaskRow::TABLE);
        for t in o.tasks {
            if let Some(chunk) = chunker.push(task_row(t).into_cells()) {
                if let Chunk::Rows { rows, .. } = &chunk {
                    sent += rows.len();
                }
                tx.send(chunk).await?;
                if terminal {
                    let _ = write!(
                        std::io::stderr(),
                        "\r\x1b[2Kimporting tasks: {sent}/{total}"
                    );
                }
            }
        }
        if let Some(chunk) = chunker.take() {
            tx.send(chunk).await?;
        }
        tx.send(Chunk::HighWater(vec![
            (UserRow::TABLE, users_seq),
            (TaskRow::TABLE, tasks_seq),
        ]))
        .await?;
        Ok::<_, mpsc::error::SendError<Chunk>>(())
    }
    .await;
    if terminal {
        eprintln!();
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| Fail(format!("import task failed: {e}")))?;
    match (written, send) {
        (Err(e), _) => Err(Fail(format!(
            "import failed, nothing was written: {}",
            match e {
                StoreError::Other(m) | StoreError::Unavailable(m) => m,
                e => e.to_string(),
            }
        ))),
        (Ok(()), Err(_)) => Err(Fail("import failed, nothing was written".into())),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// An account as tasklane holds it: its username in NFKC (the form logins are read in),
/// no events yet, credentials at the first generation (the one the original's tokens are
/// held to), not deleted.
fn user_row(u: DjangoUser) -> UserRow {
    UserRow {
        id: u.id,
        username: normalize_username(&u.username),
        email: u.email,
        password_hash: u.password,
        is_active: u.is_active,
        created_at: u.date_joined,
        event_seq: 0,
        events_pruned_through: 0,
        credentials_generation: FIRST_GENERATION,
        deleted_at: None,
        list_epoch: 0,
    }
}

/// A task as tasklane holds it, at its first version.
fn task_row(t: DjangoTask) -> TaskRow {
    TaskRow {
        id: t.id,
        user_id: t.user_id,
        title: t.title,
        description: t.description,
        completed: t.completed,
        created_at: t.created_at,
        updated_at: t.updated_at,
        version: 1,
        // The original had neither.
        due_at: None,
        assignee_id: None,
    }
}
