//! `docs/configuration.md`, rendered from the clap definition: every command, its flags,
//! their environment twins, defaults and help. `tasklane docs config` prints it, and a
//! test keeps the committed file equal to it, as it does `openapi/openapi.json`.
//!
//! Only the definition is read, never the environment or a parsed command line, so a
//! secret set in `TASKLANE_JWT_SECRET` or `TASKLANE_DATABASE_URL` cannot reach the page;
//! a default that clap is told to hide (`hide_default_value`) is not shown either.

use std::fmt::Write;

use clap::{Arg, ArgAction, Command, CommandFactory};

use super::Cli;

/// The command that regenerates the page, as the page and the freshness test say it.
pub const REGENERATE: &str = "cargo run -- docs config --out docs/configuration.md";

/// The whole page, Markdown.
pub fn markdown() -> String {
    let cli = Cli::command();
    let mut out = String::new();
    let _ = writeln!(out, "# Configuration\n");
    let _ = writeln!(
        out,
        "<!-- Generated from the command-line definition (src/config/) by `{REGENERATE}`. \
         Do not edit: change the doc comments there and regenerate. -->\n"
    );
    out.push_str(INTRO);
    render_serve(&cli, &mut out);
    out.push_str("## Other commands\n\n");
    out.push_str(
        "`tasklane help COMMAND` (or `tasklane COMMAND --help`) prints the same. The operator \
         commands work on the database while servers run on it.\n\n",
    );
    for sub in cli.get_subcommands() {
        if sub.get_name() != "serve" && !sub.is_hide_set() {
            render_command(sub, &["tasklane"], &mut out);
        }
    }
    if let Some(after) = cli.get_after_help() {
        let after = one_line(&after.to_string());
        let after = after.strip_prefix("Exit status: ").unwrap_or(&after);
        let _ = writeln!(out, "## Exit status\n\n{after}");
    }
    out
}

const INTRO: &str = "\
Every flag of `tasklane serve` (the default command: `tasklane` alone serves) has a \
`TASKLANE_*` environment twin; a flag given on the command line wins over its variable, \
and the variable over the default. The operator commands' `--db` and `--database-url` \
have twins too; their other flags are command-line only. `tasklane --help` prints the \
same text, grouped the same way.

Values that hold secrets (`--jwt-secret`, `--database-url`, `--redis-url`) are never \
printed by `--help` or here, whatever the environment holds. Durations take \
[humantime](https://docs.rs/humantime) forms: `10s`, `5m`, `1h`, `1d`.

## `tasklane serve`

";

/// The server's flags, one table per help heading, in the order the headings first appear.
fn render_serve(cli: &Command, out: &mut String) {
    let serve = cli
        .get_subcommands()
        .find(|c| c.get_name() == "serve")
        .unwrap_or(cli);
    if let Some(about) = serve.get_long_about().or(serve.get_about()) {
        let _ = writeln!(out, "{}\n", one_line(&about.to_string()));
    }
    let args: Vec<&Arg> = serve.get_arguments().filter(|a| shown(a)).collect();
    let mut headings: Vec<Option<&str>> = Vec::new();
    for a in &args {
        if !headings.contains(&a.get_help_heading()) {
            headings.push(a.get_help_heading());
        }
    }
    for heading in headings {
        let _ = writeln!(out, "### {}\n", heading.unwrap_or("Other"));
        table(
            args.iter()
                .copied()
                .filter(|a| a.get_help_heading() == heading),
            out,
        );
    }
}

/// One command, then its subcommands, each under a heading of its full name.
fn render_command(cmd: &Command, parents: &[&str], out: &mut String) {
    let mut path: Vec<&str> = parents.to_vec();
    path.push(cmd.get_name());
    let _ = writeln!(out, "### `{}`\n", path.join(" "));
    if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
        let _ = writeln!(out, "{}\n", one_line(&about.to_string()));
    }
    let args: Vec<&Arg> = cmd.get_arguments().filter(|a| shown(a)).collect();
    if !args.is_empty() {
        table(args.into_iter(), out);
    }
    let subs: Vec<&Command> = cmd.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    if !subs.is_empty() && !parents.is_empty() && cmd.get_arguments().any(shown) {
        let _ = writeln!(
            out,
            "Each `{}` command below also takes the flags above.\n",
            path.join(" ")
        );
    }
    for sub in subs {
        render_command(sub, &path, out);
    }
}

/// Hidden arguments and clap's own `--help` and `--version` are left out.
fn shown(a: &Arg) -> bool {
    !a.is_hide_set()
        && !matches!(
            a.get_action(),
            ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
        )
}

fn table<'a>(args: impl Iterator<Item = &'a Arg>, out: &mut String) {
    out.push_str("| flag | env | default | meaning |\n|---|---|---|---|\n");
    for a in args {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            flag(a),
            a.get_env()
                .map(|e| format!("`{}`", e.to_string_lossy()))
                .unwrap_or_default(),
            default(a),
            cell(&meaning(a)),
        );
    }
    out.push('\n');
}

/// `--bind <BIND>`, `--metrics`, or `<PATH>` for a positional argument.
fn flag(a: &Arg) -> String {
    let value = || {
        a.get_value_names()
            .and_then(|n| n.first())
            .map(|n| n.to_string())
            .unwrap_or_else(|| a.get_id().as_str().to_uppercase())
    };
    match a.get_long() {
        Some(long) if takes_value(a) => format!("`--{long} <{}>`", value()),
        Some(long) => format!("`--{long}`"),
        None => format!("`<{}>`", value()),
    }
}

fn takes_value(a: &Arg) -> bool {
    matches!(a.get_action(), ArgAction::Set | ArgAction::Append)
}

fn default(a: &Arg) -> String {
    if !takes_value(a) {
        return "off".into();
    }
    if a.is_hide_default_value_set() {
        return String::new();
    }
    let values: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| format!("`{}`", v.to_string_lossy()))
        .collect();
    if values.is_empty() {
        "none".into()
    } else {
        values.join(", ")
    }
}

/// The long help (or the short), the values a choice takes, and whether a flag must be
/// given: sentences, each ending with a full stop (clap drops a lone sentence's).
fn meaning(a: &Arg) -> String {
    let mut sentences: Vec<String> = Vec::new();
    if let Some(help) = a.get_long_help().or(a.get_help()) {
        sentences.push(one_line(&help.to_string()));
    }
    let choices: Vec<String> = a
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| format!("`{}`", v.get_name()))
        .collect();
    if !choices.is_empty() && takes_value(a) {
        sentences.push(format!("One of {}", choices.join(", ")));
    }
    if a.is_required_set() && a.get_long().is_some() {
        sentences.push("Required".into());
    }
    sentences
        .into_iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.ends_with(['.', '!', '?']) {
                s
            } else {
                s + "."
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Help text on one line: clap keeps a doc comment's paragraphs apart with blank lines.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Safe inside a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shown_serve_flag_has_a_row_and_hidden_ones_none() {
        let page = markdown();
        for long in ["bind", "db", "database-url", "jwt-secret", "log-format"] {
            assert!(page.contains(&format!("`--{long}")), "--{long}");
        }
        assert!(!page.contains("--send-timeout"), "a hidden flag is listed");
        assert!(page.contains("### `tasklane user create`"));
        assert!(page.contains("`TASKLANE_BIND`"));
    }

    #[test]
    fn pipes_in_help_do_not_break_the_table() {
        assert_eq!(cell("a | b"), "a \\| b");
        assert_eq!(one_line("a\n\n  b c\n"), "a b c");
    }
}
