//! The layering `src/lib.rs` states, checked: each module of `src/` names only the
//! modules below it, and the modules below HTTP name nothing of poem, poem-openapi or
//! clap. An import that climbs fails here with its file, line and rule. Comments are not
//! read (a doc link is not an import).

use std::path::{Path, PathBuf};

/// The crate's modules each module may name (itself aside), and the exceptions by item.
/// Kept in step with the layering comment at the top of `src/lib.rs`.
const ALLOWED: &[(&str, &[&str])] = &[
    ("clock", &[]),
    ("model", &[]),
    ("redact", &[]),
    ("store", &["clock", "model", "redact"]),
    ("auth", &["clock", "model", "store"]),
    ("hub", &["clock", "model", "store"]),
    ("throttle", &["clock", "store"]),
    ("metrics", &["store"]),
    (
        "domain",
        &["auth", "clock", "hub", "model", "store", "throttle"],
    ),
    // The database the flags name, and when a commit is on disk: the store's own types.
    (
        "config",
        &[
            "redact",
            "store::Database",
            "store::DatabaseUrl",
            "store::Synchronous",
        ],
    ),
    ("telemetry", &["config"]),
    (
        "state",
        &[
            "auth", "clock", "config", "domain", "hub", "metrics", "store", "throttle",
        ],
    ),
    ("housekeeping", &["clock", "state"]),
    ("error", &["auth", "domain", "store"]),
    ("cli", &["clock", "config", "domain", "redact", "store"]),
    (
        "api",
        &[
            "auth", "clock", "config", "domain", "error", "hub", "metrics", "model", "redact",
            "state", "store", "throttle",
        ],
    ),
    (
        "web",
        &["api", "clock", "error", "hub", "metrics", "model", "state"],
    ),
];

/// Below HTTP and the command line: these never name poem, poem-openapi or clap.
const HTTP_FREE: &[&str] = &[
    "auth", "clock", "domain", "hub", "redact", "store", "throttle",
];

/// What `model` may name of poem-openapi: the traits and types that describe a schema.
/// Nothing of requests, responses or operations, and nothing of poem itself.
const MODEL_SCHEMA: &[&str] = &["Enum", "Object", "registry", "types"];

/// The database drivers, named only under `store` ("the only code that speaks SQL").
const DRIVERS: &[&str] = &[
    "deadpool_postgres",
    "r2d2",
    "r2d2_sqlite",
    "rusqlite",
    "tokio_postgres",
];

/// Files outside `store` allowed to name a database driver: none.
const DRIVER_EXCEPTIONS: &[&str] = &[];

/// The root's re-exports, and the module each comes from.
const ROOT_ITEMS: &[(&str, &str)] = &[("AppState", "state"), ("Limits", "state")];

/// One climbing import.
#[derive(Debug, PartialEq)]
struct Violation {
    file: String,
    line: usize,
    named: String,
    rule: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: names `{}`, against the rule: {}",
            self.file, self.line, self.named, self.rule
        )
    }
}

/// The top-level module `path` (relative to the crate root, `src/…`) belongs to.
fn module_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("src/")?;
    let first = rest.split('/').next()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then_some(name)
}

/// `text` with its comments and the insides of its string literals blanked (line breaks
/// kept, so line numbers hold): what is left is code.
fn strip_comments(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0usize;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (!prev_ident
                || (i > 0 && chars[i - 1] == 'b' && (i < 2 || !chars[i - 2].is_alphanumeric())))
            && matches!(next, Some('"') | Some('#'))
        {
            // A raw string: r"…", r#"…"#, and so on.
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.push('"');
            i += 2 + hashes;
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while i < chars.len() && !chars[i..].starts_with(&close) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push('"');
            i += close.len();
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if let Some(&c) = chars.get(i) {
                    out.push(blank(c));
                }
                i += 1;
            }
            out.push('"');
            i += 1;
        } else if c == '\'' && next == Some('"') && chars.get(i + 2) == Some(&'\'') {
            // The char literal '"': not the start of a string.
            out.push_str("' '");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Every path `code` names after `root::`, with the line it starts on: `root::a::b`, and
/// each top-level entry of a group (`root::{a::b, c}` gives `a::b` and `c`).
fn paths_after(code: &str, root: &str) -> Vec<(usize, String)> {
    let needle = format!("{root}::");
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(i) = code[from..].find(&needle).map(|i| i + from) {
        from = i + needle.len();
        let before = code[..i].chars().next_back();
        // `poem_openapi::` is not `poem::`, nor is `x::clap::` the clap crate.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let line = code[..i].matches('\n').count() + 1;
        if bytes.get(from) == Some(&b'{') {
            let mut depth = 0usize;
            let mut entry = String::new();
            for c in code[from..].chars() {
                match c {
                    '{' => {
                        depth += 1;
                        if depth > 1 {
                            entry.push(c);
                        }
                    }
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                        entry.push(c);
                    }
                    ',' if depth == 1 => {
                        found.push((line, std::mem::take(&mut entry)));
                    }
                    _ => entry.push(c),
                }
            }
            found.push((line, entry));
        } else {
            let path: String = code[from..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            found.push((line, path));
        }
    }
    found
        .into_iter()
        .map(|(line, p)| {
            let p: String = p.chars().filter(|c| !c.is_whitespace()).collect();
            (line, p.trim_end_matches(':').to_owned())
        })
        .filter(|(_, p)| !p.is_empty())
        .collect()
}

/// What breaks the rules in one file: `file` is its path from the crate root (`src/…`).
fn check_file(file: &str, text: &str) -> Vec<Violation> {
    let Some(module) = module_of(file) else {
        return Vec::new();
    };
    let code = strip_comments(text);
    let mut out = Vec::new();
    let mut flag = |line, named: String, rule: &str| {
        out.push(Violation {
            file: file.to_owned(),
            line,
            named,
            rule: rule.to_owned(),
        })
    };
    let allowed = ALLOWED.iter().find(|(m, _)| *m == module).map(|(_, a)| *a);
    for (line, path) in paths_after(&code, "crate") {
        let first = path.split("::").next().unwrap_or_default();
        let target = ROOT_ITEMS
            .iter()
            .find(|(item, _)| *item == first)
            .map_or(first, |(_, m)| *m);
        if target == module || target == "self" || target.is_empty() {
            continue;
        }
        let Some(allowed) = allowed else {
            flag(
                line,
                format!("crate::{path}"),
                &format!(
                    "`{module}` is not in the layering at all: add it to src/lib.rs and to ALLOWED"
                ),
            );
            continue;
        };
        let ok = allowed.iter().any(|a| match a.split_once("::") {
            Some((m, _)) => m == target && (path == *a || path.starts_with(&format!("{a}::"))),
            None => *a == target,
        });
        if !ok {
            flag(
                line,
                format!("crate::{path}"),
                &if allowed.is_empty() {
                    format!(
                        "`{module}` names nothing of the crate (src/lib.rs: imports point down)"
                    )
                } else {
                    format!(
                        "`{module}` names only {} of the crate (src/lib.rs: imports point down)",
                        allowed.join(", ")
                    )
                },
            );
        }
    }
    let http_free = HTTP_FREE.contains(&module);
    for root in ["poem", "poem_openapi", "clap"] {
        for (line, path) in paths_after(&code, root) {
            let named = format!("{root}::{path}");
            if http_free {
                flag(
                    line,
                    named,
                    &format!(
                        "`{module}` is below HTTP and the command line: no poem, poem-openapi or clap"
                    ),
                );
            } else if module == "model" {
                let schema = root == "poem_openapi"
                    && MODEL_SCHEMA.contains(&path.split("::").next().unwrap_or_default());
                if !schema {
                    flag(
                        line,
                        named,
                        "`model` may use poem-openapi's schema traits (Object, Enum, types, registry) and nothing else of HTTP",
                    );
                }
            } else if root == "clap" && module != "config" {
                flag(
                    line,
                    named,
                    "clap is `config`'s (and `main`'s): the flags are defined in one place",
                );
            }
        }
    }
    let excepted = DRIVER_EXCEPTIONS.iter().any(|e| file.starts_with(e));
    if module != "store" && !excepted {
        for driver in DRIVERS {
            for (line, path) in paths_after(&code, driver) {
                flag(
                    line,
                    format!("{driver}::{path}"),
                    "`store` is the only code that speaks SQL: no database driver outside it",
                );
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_import_climbs_against_the_layering_lib_rs_states() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    assert!(
        files.len() > 50,
        "found only {} files under src/",
        files.len()
    );
    let mut violations = Vec::new();
    for path in &files {
        let file = path
            .strip_prefix(root)
            .expect("under the crate")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(path).expect("read a source file");
        violations.extend(check_file(&file, &text));
    }
    let report: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(
        report.is_empty(),
        "{} import(s) climb against the layering in src/lib.rs:\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn every_module_of_the_crate_has_its_place_in_the_layering() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(&src).expect("read src/") {
        let name = entry
            .expect("an entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let Some(module) = module_of(&format!("src/{name}")).map(str::to_owned) else {
            continue;
        };
        if !name.ends_with(".rs") && !src.join(&name).join("mod.rs").exists() {
            continue;
        }
        assert!(
            ALLOWED.iter().any(|(m, _)| *m == module),
            "src/{name}: module `{module}` has no rule in ALLOWED (and src/lib.rs's layering)"
        );
    }
}

#[test]
fn the_check_catches_what_climbs_and_passes_what_does_not() {
    let bad = "\
use poem::Request;
use crate::api::oauth::TOKEN_URL;
use crate::{clock::now_secs, web::routes};
// use crate::cli::nothing; (a comment)
fn f() -> &'static str { \"crate::api in a string\" }
";
    let found = check_file("src/domain/x.rs", bad);
    let named: Vec<(usize, &str)> = found.iter().map(|v| (v.line, v.named.as_str())).collect();
    assert_eq!(
        named,
        [
            (2, "crate::api::oauth::TOKEN_URL"),
            (3, "crate::web::routes"),
            (1, "poem::Request")
        ],
        "{found:#?}"
    );
    assert!(
        found[0]
            .to_string()
            .starts_with("src/domain/x.rs:2: names `crate::api")
    );

    let model =
        "use poem_openapi::{Enum, Object, types::Type};\nuse poem_openapi::payload::Json;\n";
    let found = check_file("src/model.rs", model);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].named, "poem_openapi::payload::Json");

    let config = "use crate::store::Synchronous;\nuse crate::store::postgres::tls;\n";
    let found = check_file("src/config/mod.rs", config);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].line, 2);

    let store = "use rusqlite::Connection;\nuse crate::config::Database;\nuse crate::AppState;\n";
    let found = check_file("src/store/sqlite/mod.rs", store);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].named, "crate::config::Database");
    assert_eq!(found[1].named, "crate::AppState");

    let cli = "use rusqlite::Connection;\n";
    assert_eq!(check_file("src/cli/user.rs", cli).len(), 1);
}
