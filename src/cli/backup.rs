//! `tasklane backup`: a consistent copy of the live database, checked before it is put
//! in place.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::Fail;
use crate::config::commands::BackupArgs;
use crate::store::admin::{self, BackupPacing, BackupProgress};

pub(super) async fn run(args: BackupArgs) -> Result<(), Fail> {
    let db = args.db.database();
    let Some(src) = db.file().map(Path::to_path_buf) else {
        return Err(Fail(format!(
            "`tasklane backup` copies a SQLite file, and {db} is PostgreSQL: back it up \
             with `pg_dump` (e.g. `pg_dump --format=custom --file=tasklane.dump \
             \"$TASKLANE_DATABASE_URL\"`), or copy it to a SQLite file with `tasklane copy`"
        )));
    };
    if !src.is_file() {
        return Err(Fail(format!(
            "database {} does not exist (set --db or TASKLANE_DB)",
            src.display()
        )));
    }
    let dest = args.path;
    if let (Ok(a), Ok(b)) = (src.canonicalize(), dest.canonicalize())
        && a == b
    {
        return Err(Fail(format!(
            "{} is the database itself; back up to another file",
            dest.display()
        )));
    }
    if dest.is_dir() {
        return Err(Fail(format!("{} is a directory", dest.display())));
    }
    if dest.exists() && !args.force {
        return Err(Fail(format!(
            "{} already exists (use --force to replace it)",
            dest.display()
        )));
    }
    let file_name = dest
        .file_name()
        .ok_or_else(|| Fail(format!("{} is not a file name", dest.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dest.with_file_name(tmp_name);

    let pacing = BackupPacing {
        pages_per_step: args.pages_per_step,
        pause: args.step_pause,
    };
    let show_bar = !args.no_progress && std::io::stderr().is_terminal();
    let (src2, tmp2) = (src.clone(), tmp.clone());
    let copied = tokio::task::spawn_blocking(move || {
        let mut bar = ProgressBar::new(show_bar);
        let copied = admin::backup_database(&src2, &tmp2, pacing, |p| bar.update(p));
        bar.finish();
        copied?;
        let problems = admin::integrity_check(&tmp2)?;
        Ok::<_, Fail>(problems)
    })
    .await
    .map_err(|e| Fail(format!("backup task failed: {e}")));
    let problems = match copied.and_then(|r| r) {
        Ok(problems) => problems,
        Err(e) => {
            remove_quietly(&tmp);
            return Err(Fail(format!("backup failed: {}", e.0)));
        }
    };
    if problems != ["ok"] {
        remove_quietly(&tmp);
        return Err(Fail(format!(
            "the copy failed its integrity check, nothing written:\n  {}",
            problems.join("\n  ")
        )));
    }
    if let Err(e) = put_in_place(&tmp, &dest, args.force) {
        remove_quietly(&tmp);
        return Err(e);
    }
    let size = std::fs::metadata(&dest)
        .map_err(|e| Fail(format!("cannot stat {}: {e}", dest.display())))?
        .len();
    println!(
        "backup written to {}: {} bytes ({}), integrity check ok",
        dest.display(),
        size,
        human_size(size)
    );
    Ok(())
}

/// Moves the finished copy to `dest`: atomically replacing it with `--force`, else
/// without ever overwriting a file that appeared meanwhile (a hard link fails if the
/// name is taken).
fn put_in_place(tmp: &Path, dest: &Path, force: bool) -> Result<(), Fail> {
    let placed = if force {
        std::fs::rename(tmp, dest)
    } else {
        match std::fs::hard_link(tmp, dest) {
            Ok(()) => std::fs::remove_file(tmp),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Fail(format!(
                    "{} already exists (use --force to replace it)",
                    dest.display()
                )));
            }
            // Filesystems without hard links: the existence check above must do.
            Err(_) if !dest.exists() => std::fs::rename(tmp, dest),
            Err(e) => Err(e),
        }
    };
    placed.map_err(|e| Fail(format!("cannot write {}: {e}", dest.display())))?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

fn remove_quietly(tmp: &Path) {
    let _ = std::fs::remove_file(tmp);
    for suffix in ["-journal", "-wal", "-shm"] {
        let mut p = tmp.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A one-line progress bar on stderr, redrawn in place, for databases over 8 MiB.
struct ProgressBar {
    enabled: bool,
    drawn: bool,
    last_percent: Option<u64>,
}

impl ProgressBar {
    const MIN_BYTES: u64 = 8 << 20;
    const WIDTH: u64 = 30;

    fn new(enabled: bool) -> ProgressBar {
        ProgressBar {
            enabled,
            drawn: false,
            last_percent: None,
        }
    }

    fn update(&mut self, p: BackupProgress) {
        let total_bytes = p.total_pages * p.page_size;
        if !self.enabled || total_bytes < Self::MIN_BYTES || p.total_pages == 0 {
            return;
        }
        let percent = p.copied_pages * 100 / p.total_pages;
        if self.last_percent == Some(percent) {
            return;
        }
        self.last_percent = Some(percent);
        let filled = p.copied_pages * Self::WIDTH / p.total_pages;
        let bar: String = (0..Self::WIDTH)
            .map(|i| if i < filled { '#' } else { '-' })
            .collect();
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\rbackup [{bar}] {percent:>3}%  {} / {}",
            human_size(p.copied_pages * p.page_size),
            human_size(total_bytes)
        );
        let _ = err.flush();
        self.drawn = true;
    }

    fn finish(&mut self) {
        if self.drawn {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 << 20), "3.0 MiB");
    }
}
