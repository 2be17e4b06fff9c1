//! Every `tasklane …` command line shown in the docs' shell blocks parses with the
//! current command-line definition (`Cli`, through clap's `try_get_matches_from`).

use std::collections::BTreeMap;
use std::path::Path;

use clap::CommandFactory;

use super::{Block, Page, pages, shown, split};

/// A shell word or an operator.
#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    /// `|`, `||`, `&`, `&&`, `;`: the end of a command.
    End,
    /// `<`, `>`, `>>`, `2>`, `&>`…: the next word is a file, not an argument.
    Redirect,
    /// `>&1`, `2>&1`: a redirection that takes no word.
    RedirectDone,
}

/// Splits one logical shell line into words and operators: quotes, backslashes, `#`
/// comments, and `$(…)` (kept as one opaque word piece).
fn tokenize(line: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let finish = |word: &mut String, in_word: &mut bool, out: &mut Vec<Tok>| {
        if *in_word {
            out.push(Tok::Word(std::mem::take(word)));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => finish(&mut word, &mut in_word, &mut out),
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            '$' if chars.peek() == Some(&'(') => {
                in_word = true;
                let mut depth = 0;
                for c in chars.by_ref() {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                }
                word.push_str("SUBST");
            }
            '|' | ';' | '&' => {
                // `&>` redirects; `&&`, `||`, `|`, `;` and `&` end a command.
                if c == '&' && chars.peek() == Some(&'>') {
                    chars.next();
                    finish(&mut word, &mut in_word, &mut out);
                    out.push(Tok::Redirect);
                    continue;
                }
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                finish(&mut word, &mut in_word, &mut out);
                out.push(Tok::End);
            }
            '<' | '>' => {
                // A file descriptor number before it (`2>`) belongs to the redirection.
                if in_word && word.chars().all(|d| d.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                }
                finish(&mut word, &mut in_word, &mut out);
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                if chars.peek() == Some(&'&') {
                    chars.next();
                    while chars
                        .peek()
                        .is_some_and(|d| d.is_ascii_digit() || *d == '-')
                    {
                        chars.next();
                    }
                    out.push(Tok::RedirectDone);
                } else {
                    out.push(Tok::Redirect);
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    finish(&mut word, &mut in_word, &mut out);
    out
}

/// The simple commands of a logical line: their words, redirections left out.
fn commands(line: &str) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    let mut skip_next = false;
    for tok in tokenize(line) {
        match tok {
            Tok::Word(w) if skip_next => {
                skip_next = false;
                let _ = w;
            }
            Tok::Word(w) => out.last_mut().unwrap_or_else(|| unreachable!()).push(w),
            Tok::End => out.push(Vec::new()),
            Tok::Redirect => skip_next = true,
            Tok::RedirectDone => {}
        }
    }
    out.retain(|c| !c.is_empty());
    out
}

/// The arguments a shell command line gives `tasklane` (after the program name), or None
/// when it does not run tasklane. `aliases` holds the block's `alias name='…'` lines;
/// `env` gets the line's `NAME=value` assignments before the program.
fn tasklane_args(
    words: &[String],
    aliases: &BTreeMap<String, Vec<String>>,
    env: &mut BTreeMap<String, String>,
) -> Option<Vec<String>> {
    let mut words: Vec<String> = words.to_vec();
    loop {
        // `NAME=value` assignments before the program.
        while let Some((k, v)) = words
            .first()
            .and_then(|w| w.split_once('='))
            .filter(|(k, _)| is_name(k))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        {
            env.insert(k, v);
            words.remove(0);
        }
        let first = words.first()?.clone();
        match first.as_str() {
            "sudo" | "env" | "exec" | "nohup" | "time" => {
                words.remove(0);
                while words.first().is_some_and(|w| w.starts_with('-')) {
                    let flag = words.remove(0);
                    if ["-u", "-g", "-U", "-C", "-D", "-h"].contains(&flag.as_str())
                        && !words.is_empty()
                    {
                        words.remove(0);
                    }
                }
            }
            "cargo" => {
                if words.get(1).map(String::as_str) != Some("run") {
                    return None;
                }
                let dashes = words.iter().position(|w| w == "--");
                let cargo_flags = &words[2..dashes.unwrap_or(words.len())];
                // `-p`/`--bin` naming another package or binary runs something else.
                let names_other = cargo_flags.windows(2).any(|w| {
                    ["-p", "--package", "--bin"].contains(&w[0].as_str()) && w[1] != "tasklane"
                });
                if names_other {
                    return None;
                }
                return Some(match dashes {
                    Some(i) => words[i + 1..].to_vec(),
                    None => Vec::new(),
                });
            }
            _ if aliases.contains_key(&first) => {
                words.splice(0..1, aliases[&first].iter().cloned());
            }
            program => {
                let name = Path::new(program).file_name()?.to_str()?;
                return (name == "tasklane").then(|| words[1..].to_vec());
            }
        }
    }
}

/// `args` with the environment the docs give the command (`NAME=value` before it, or an
/// `export` earlier in the block) spelled out as the flags those variables stand for, on
/// the (sub)command the line runs: the check itself is deaf to the environment.
fn with_env(args: &[String], env: &BTreeMap<String, String>) -> Vec<String> {
    let mut cmd = tasklane::config::Cli::command();
    for a in args {
        match cmd.find_subcommand(a) {
            Some(sub) => cmd = sub.clone(),
            None if a.starts_with('-') => {}
            None => break,
        }
    }
    let mut out = args.to_vec();
    for arg in cmd.get_arguments() {
        let (Some(name), Some(long)) = (arg.get_env(), arg.get_long()) else {
            continue;
        };
        let Some(value) = name.to_str().and_then(|n| env.get(n)) else {
            continue;
        };
        let flag = format!("--{long}");
        if !out
            .iter()
            .any(|w| w == &flag || w.starts_with(&format!("{flag}=")))
        {
            out.push(format!("{flag}={value}"));
        }
    }
    out
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// A block's logical lines (`\` continuations joined), each with its first line number.
fn logical_lines(block: &Block) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in block.lines.iter().enumerate() {
        let n = block.first_line + i;
        let line = line.trim();
        let line = if block.lang == "console" {
            match line.strip_prefix("$ ") {
                Some(l) => l,
                None if pending.is_none() => continue,
                None => line,
            }
        } else {
            line
        };
        let (start, mut text) = pending.take().unwrap_or((n, String::new()));
        match line.strip_suffix('\\') {
            Some(head) => {
                text.push_str(head);
                text.push(' ');
                pending = Some((start, text));
            }
            None => {
                text.push_str(line);
                out.push((start, text));
            }
        }
    }
    out.extend(pending);
    out
}

/// Every `tasklane …` command line in a page's shell blocks: (line, the line as shown,
/// the arguments after the program).
fn tasklane_lines(page: &Page) -> Vec<(usize, String, Vec<String>)> {
    let mut out = Vec::new();
    for block in &page.blocks {
        if !["sh", "bash", "shell", "console"].contains(&block.lang.as_str()) {
            continue;
        }
        let mut aliases = BTreeMap::new();
        let mut exported = BTreeMap::new();
        for (n, line) in logical_lines(block) {
            for words in commands(&line) {
                if words[0] == "export" {
                    for def in &words[1..] {
                        if let Some((name, value)) = def.split_once('=') {
                            exported.insert(name.to_owned(), value.to_owned());
                        }
                    }
                    continue;
                }
                if words[0] == "alias" {
                    for def in &words[1..] {
                        if let Some((name, value)) = def.split_once('=') {
                            let expansion = commands(value).into_iter().next().unwrap_or_default();
                            aliases.insert(name.to_owned(), expansion);
                        }
                    }
                    continue;
                }
                let mut env = exported.clone();
                if let Some(args) = tasklane_args(&words, &aliases, &mut env) {
                    out.push((n, line.clone(), with_env(&args, &env)));
                }
            }
        }
    }
    out
}

/// The command-line definition, deaf to the environment: a `TASKLANE_*` variable set
/// where the test runs must not make a documented line pass or fail.
fn cli() -> clap::Command {
    fn deaf(cmd: clap::Command) -> clap::Command {
        cmd.mut_args(|a| a.env(None::<&'static str>))
            .mut_subcommands(deaf)
    }
    deaf(tasklane::config::Cli::command())
}

/// Whether `args` parse; the error otherwise.
fn parses(args: &[String]) -> Result<(), String> {
    let argv = std::iter::once("tasklane".to_owned()).chain(args.iter().cloned());
    match cli().try_get_matches_from(argv) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp
                    | clap::error::ErrorKind::DisplayVersion
                    | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e.to_string().lines().next().unwrap_or_default().to_owned()),
    }
}

#[test]
fn every_tasklane_command_line_in_the_docs_parses() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in pages() {
        let text = std::fs::read_to_string(&path).expect("read a page");
        for (n, line, args) in tasklane_lines(&split(&text)) {
            checked += 1;
            if let Err(e) = parses(&args) {
                failures.push(format!("{}:{n}: {line}\n    {e}", shown(&path)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "command lines the current CLI refuses:\n{}",
        failures.join("\n")
    );
    assert!(checked >= 25, "only {checked} tasklane command lines found");
}

/// The extraction understands the ways the docs run the binary, and a line the CLI
/// refuses is caught.
#[test]
fn command_lines_are_found_however_they_run_the_binary() {
    let page = split(
        "```sh\n\
         alias tl='sudo -u tasklane tasklane'   # every command\n\
         TASKLANE_DB=/x.db tasklane user list --json | jq .\n\
         sudo -u tasklane tasklane backup /b/backup-$(date +%F).db --db /x.db\n\
         ./target/release/tasklane --help\n\
         cargo run --release -- migrate --db x.db\n\
         cargo run --release\n\
         cargo run -p tasklane-bench -- --json x\n\
         tasklane serve --bind 127.0.0.1:8001 \\\n  --trust-x-forwarded-for &\n\
         tl user create --username a --email a@example.com --password-stdin < pw.txt\n\
         tasklane completions bash 2>/dev/null | sudo tee /etc/x\n\
         tasklane serve --no-such-flag\n\
         ```\n\
         ```text\ntasklane not a command\n```\n",
    );
    let found: Vec<(usize, Vec<String>)> = tasklane_lines(&page)
        .into_iter()
        .map(|(n, _, args)| (n, args))
        .collect();
    let w = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        found,
        vec![
            (3, w("user list --json")),
            (4, w("backup /b/backup-SUBST.db --db /x.db")),
            (5, w("--help")),
            (6, w("migrate --db x.db")),
            (7, vec![]),
            (9, w("serve --bind 127.0.0.1:8001 --trust-x-forwarded-for")),
            (
                11,
                w("user create --username a --email a@example.com --password-stdin")
            ),
            (12, w("completions bash")),
            (13, w("serve --no-such-flag")),
        ]
    );
    let verdicts: Vec<bool> = found.iter().map(|(_, a)| parses(a).is_ok()).collect();
    assert_eq!(
        verdicts,
        [true, true, true, true, true, true, true, true, false]
    );
}
