//! `--synchronous`'s values as clap lists them (each with its `--help` line), turned into
//! the store's [`Synchronous`]: the store itself knows nothing of the command line.

use clap::builder::{EnumValueParser, TypedValueParser};

use crate::store::Synchronous;

/// When a commit is on stable storage (SQLite's `synchronous` in WAL mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Choice {
    /// Every commit syncs the WAL before it returns: an acknowledged write survives a
    /// power cut or kernel crash.
    Full,
    /// Commits reach the OS but are synced only at checkpoints: a crash of the process
    /// loses nothing, a power cut or kernel crash may lose the last writes.
    Normal,
}

/// Parses `full` or `normal` (listed as clap lists a value enum's) into [`Synchronous`].
pub(super) fn parser() -> impl TypedValueParser<Value = Synchronous> {
    EnumValueParser::<Choice>::new().map(|choice| match choice {
        Choice::Full => Synchronous::Full,
        Choice::Normal => Synchronous::Normal,
    })
}
