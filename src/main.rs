//! The tasklane binary: parse the command line, then hand over to the library.

#![forbid(unsafe_code)]

use clap::Parser;

use tasklane::config::commands::DocsCommand;
use tasklane::config::{Cli, Command};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Some(
            Command::User(_)
                | Command::Backup(_)
                | Command::Migrate(_)
                | Command::Token(_)
                | Command::Project(_)
                | Command::Copy(_)
                | Command::ImportDjango(_)
        )
    ) {
        // The operator commands' warnings (a database connection that is not verified
        // TLS, a password file others can read) go to stderr.
        tasklane::telemetry::init("warn", tasklane::config::LogFormat::Text);
    }
    match cli.command {
        Some(Command::Openapi { out }) => write_out(out, &tasklane::api::spec_json()),
        Some(Command::Docs(args)) => match args.command {
            DocsCommand::Config { out } => write_out(out, &tasklane::config::reference::markdown()),
        },
        Some(Command::Completions { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "tasklane", &mut out);
            print_out(&out)
        }
        Some(Command::Man) => {
            let mut out = Vec::new();
            let rendered =
                clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut out);
            match rendered {
                Ok(()) => print_out(&out),
                Err(e) => {
                    eprintln!("tasklane: cannot render the manual page: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Some(Command::User(args)) => tasklane::cli::user(args).await,
        Some(Command::Backup(args)) => tasklane::cli::backup(args).await,
        Some(Command::Migrate(args)) => tasklane::cli::migrate(args).await,
        Some(Command::Token(args)) => tasklane::cli::token(args).await,
        Some(Command::Project(args)) => tasklane::cli::project(args).await,
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

/// Writes a command's output to the file `out`, or to stdout when there is none.
fn write_out(out: Option<std::path::PathBuf>, text: &str) -> std::process::ExitCode {
    match out {
        Some(path) => match std::fs::write(&path, text) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tasklane: cannot write {}: {e}", path.display());
                std::process::ExitCode::FAILURE
            }
        },
        None => print_out(text.as_bytes()),
    }
}

/// Writes a command's output to stdout; a reader that went away (`| head`) is not an error.
fn print_out(bytes: &[u8]) -> std::process::ExitCode {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tasklane: cannot write to stdout: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
