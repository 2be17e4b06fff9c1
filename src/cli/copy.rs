//! `tasklane copy --from SRC --to DST`: a deployment moved between SQLite and PostgreSQL
//! (see [`crate::store::copy`] for what travels and how it is checked).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Fail, open_store, show, table};
use crate::config::commands::CopyArgs;
use crate::store::StoreError;
use crate::store::admin;
use crate::store::copy::{self, Progress};

pub(super) async fn run(args: CopyArgs) -> Result<(), Fail> {
    let (from, to) = (args.from, args.to);
    if from.same_as(&to) {
        return Err(Fail(format!("{from} is both the source and the target")));
    }
    let source = open_store(&from, false).await?;
    // A SQLite target made here is removed again if the copy fails.
    let made = to
        .file()
        .filter(|path| !path.exists())
        .map(Path::to_path_buf);
    let target = match open_store(&to, true).await {
        Ok(t) => t,
        Err(e) => {
            remove_made(made.as_deref());
            return Err(e);
        }
    };

    let mut shown = Shown::new(!args.no_progress);
    let copied = copy::copy(&source, &target, |p| shown.progress(p)).await;
    shown.end();
    drop(target);
    let report = match copied {
        Ok(r) => r,
        Err(e) => {
            remove_made(made.as_deref());
            let why = match e {
                StoreError::Other(m) | StoreError::Unavailable(m) => m,
                e => e.to_string(),
            };
            return Err(Fail(format!(
                "copy failed, nothing was written to {to}: {why}"
            )));
        }
    };
    let mut integrity = String::new();
    if let Some(path) = to.file() {
        let problems = admin::integrity_check(path)?;
        if problems != ["ok"] {
            return Err(Fail(format!(
                "{} failed SQLite's integrity check: {}",
                path.display(),
                problems.join("; ")
            )));
        }
        integrity = "; SQLite integrity_check ok".into();
    }

    println!(
        "copied {} to {}",
        show::escape(&from.to_string()),
        show::escape(&to.to_string())
    );
    let rows: Vec<[String; 2]> = report
        .tables
        .iter()
        .map(|(name, n)| [n.to_string(), (*name).to_owned()])
        .collect();
    print!("{}", table(["ROWS", "TABLE"], &rows));
    let next: Vec<String> = report
        .high_water
        .iter()
        .map(|(t, v)| format!("{t} {}", v + 1))
        .collect();
    println!("next ids: {}", next.join(", "));
    println!(
        "checked: every table read back from the target matches the source (row count and \
         SHA-256 of its rows){integrity}"
    );
    Ok(())
}

fn remove_made(path: Option<&Path>) {
    let Some(path) = path else { return };
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

/// Progress on stderr: one line redrawn on a terminal, else a line per table and every
/// few seconds on long tables.
struct Shown {
    on: bool,
    terminal: bool,
    last: Option<Instant>,
    drawn: bool,
}

impl Shown {
    fn new(on: bool) -> Shown {
        Shown {
            on,
            terminal: std::io::stderr().is_terminal(),
            last: None,
            drawn: false,
        }
    }

    fn progress(&mut self, p: Progress) {
        if !self.on {
            return;
        }
        let every = if self.terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(5)
        };
        let table_done = p.table_done == p.table_total;
        let due = self.last.is_none_or(|t| t.elapsed() >= every);
        // A terminal's line is redrawn often; a log gets a line per table and one every
        // few seconds in a long one.
        let show = if self.terminal {
            due || table_done
        } else {
            table_done || (due && self.last.is_some())
        };
        if self.last.is_none() {
            self.last = Some(Instant::now());
        }
        if !show {
            return;
        }
        self.last = Some(Instant::now());
        let pct = (p.done * 100).checked_div(p.total).unwrap_or(100);
        let line = format!(
            "copying {}: {}/{} rows ({pct}% of {} rows in all)",
            p.table, p.table_done, p.table_total, p.total
        );
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r\x1b[2K{line}");
            self.drawn = true;
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    fn end(&mut self) {
        if self.drawn {
            eprintln!();
        }
    }
}
