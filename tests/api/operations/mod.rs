//! Running a deployment: the operator commands (`tasklane user`, `token`, `migrate`),
//! backups, `tasklane copy`, and the move from the original Django app.

pub(crate) mod backup;
pub(crate) mod cli;
pub(crate) mod copy;
pub(crate) mod django;
pub(crate) mod metrics;
pub(crate) mod secrets;
