//! The tasklane binary: parse the command line, then hand over to the library.

use clap::Parser;

use tasklane::config::{Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Openapi { out }) => match out {
            Some(path) => match std::fs::write(&path, tasklane::api::spec_json()) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tasklane: cannot write {}: {e}", path.display());
                    std::process::ExitCode::FAILURE
                }
            },
            None => {
                print!("{}", tasklane::api::spec_json());
                std::process::ExitCode::SUCCESS
            }
        },
        Some(Command::User(args)) => tasklane::cli::user(args).await,
        Some(Command::Backup(args)) => tasklane::cli::backup(args).await,
        Some(Command::Migrate(args)) => tasklane::cli::migrate(args).await,
        Some(Command::Token(args)) => tasklane::cli::token(args).await,
        Some(Command::Copy(args)) => tasklane::cli::copy(args).await,
        Some(Command::ImportDjango(args)) => tasklane::cli::import_django(args).await,
        _ => {
            let args = cli.serve_args();
            tasklane::telemetry::init(&args.log, args.log_format);
            match tasklane::run(args).await {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    // Once: through the log when it shows errors (it writes to stderr,
                    // as JSON with --log-format json), else straight to stderr.
                    if tracing::enabled!(tracing::Level::ERROR) {
                        tracing::error!("tasklane: {e}");
                    } else {
                        eprintln!("tasklane: {e}");
                    }
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}
