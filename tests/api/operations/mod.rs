//! Running a deployment: the operator commands (`tasklane user`, `token`, `migrate`),
//! backups, `tasklane copy`, and the move from the original Django app.

mod backup;
mod cli;
mod copy;
mod django;
mod metrics;
mod secrets;
