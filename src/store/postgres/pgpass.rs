//! The password for a database URL that carries none, from where libpq looks for it
//! (tokio-postgres looks nowhere): the `PGPASSWORD` environment variable, else the
//! password file, `PGPASSFILE` or else `~/.pgpass`. So an operator can keep passwords out
//! of command lines, which every local user can read in `/proc/PID/cmdline`.
//!
//! The file is libpq's (PostgreSQL documentation, "The Password File"): one
//! `hostname:port:database:username:password` per line; each of the first four fields is
//! a literal or `*` (anything); `\` escapes a `:` or a `\` in any field; the first line
//! that matches wins; lines starting with `#` are comments. The host `localhost` matches
//! a connection over the default Unix socket directory. A file that is not a plain file,
//! or that its group or others may read or write, is ignored with a warning, as libpq
//! does. The connection's database defaults to its user, the user to the OS user, the
//! port to 5432.
//!
//! These variables are libpq's, read where a connection is made, like libpq reads them;
//! they are the only environment this module reads.

use std::path::{Path, PathBuf};

use tokio_postgres::config::Host;

/// The Unix socket directories libpq builds with by default (upstream; Debian's).
const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/tmp", "/var/run/postgresql"];

/// Sets `config`'s password from `PGPASSWORD` or the password file when the URL gave
/// none (or an empty one, which libpq treats as none).
pub(super) fn fill_password(config: &mut tokio_postgres::Config) {
    if config.get_password().is_some_and(|p| !p.is_empty()) {
        return;
    }
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(password) = env("PGPASSWORD") {
        config.password(password.into_encoded_bytes());
        return;
    }
    let file = match env("PGPASSFILE") {
        Some(path) => PathBuf::from(path),
        None => match env("HOME") {
            Some(home) => Path::new(&home).join(".pgpass"),
            None => return,
        },
    };
    let Some(text) = read_private(&file) else {
        return;
    };
    let user = match config.get_user() {
        Some(user) => user.to_owned(),
        None => match whoami::username() {
            Ok(user) => user,
            Err(_) => return,
        },
    };
    let database = config.get_dbname().unwrap_or(&user).to_owned();
    if let Some(password) = targets(config)
        .iter()
        .find_map(|(host, port)| lookup(&text, host, &port.to_string(), &database, &user))
    {
        config.password(password);
    }
}

/// Each server `config` names, as the password file names it, with its port.
fn targets(config: &tokio_postgres::Config) -> Vec<(String, u16)> {
    let ports = config.get_ports();
    let port = |i: usize| match ports.len() {
        0 => 5432,
        1 => ports[0],
        _ => ports.get(i).copied().unwrap_or(5432),
    };
    let mut out = Vec::new();
    for (i, host) in config.get_hosts().iter().enumerate() {
        let name = match host {
            Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            Host::Unix(dir) => {
                let dir = dir.to_string_lossy().trim_end_matches('/').to_owned();
                if DEFAULT_SOCKET_DIRS.contains(&dir.as_str()) {
                    "localhost".to_owned()
                } else {
                    dir
                }
            }
        };
        out.push((name, port(i)));
    }
    if out.is_empty() {
        for (i, addr) in config.get_hostaddrs().iter().enumerate() {
            out.push((addr.to_string(), port(i)));
        }
    }
    out
}

/// The file's bytes, if it is a plain file that only its owner may read or write.
fn read_private(path: &Path) -> Option<Vec<u8>> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        // No file is the usual case: nothing to say.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot read the password file");
            return None;
        }
    };
    if !meta.is_file() {
        tracing::warn!(file = %path.display(), "the password file is not a plain file: ignored");
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                file = %path.display(),
                "the password file has group or world access: ignored; permissions should be \
                 u=rw (0600) or less, as libpq requires"
            );
            return None;
        }
    }
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot read the password file");
            None
        }
    }
}

/// The password of the first line of `text` matching the connection, un-escaped.
fn lookup(text: &[u8], host: &str, port: &str, database: &str, user: &str) -> Option<Vec<u8>> {
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let mut rest = line;
        let mut matched = true;
        for want in [host, port, database, user] {
            match field_matches(rest, want.as_bytes()) {
                Some(after) => rest = after,
                None => {
                    matched = false;
                    break;
                }
            }
        }
        if matched {
            return Some(unescape_password(rest));
        }
    }
    None
}

/// When the field at the start of `line` is `*` or equals `want` (after `\` escapes),
/// the text after its `:`.
fn field_matches<'a>(line: &'a [u8], want: &[u8]) -> Option<&'a [u8]> {
    if let Some(after) = line.strip_prefix(b"*:") {
        return Some(after);
    }
    let mut i = 0;
    let mut j = 0;
    while i < line.len() {
        let mut escaped = false;
        if line[i] == b'\\' && i + 1 < line.len() {
            i += 1;
            escaped = true;
        }
        if line[i] == b':' && !escaped {
            return (j == want.len()).then(|| &line[i + 1..]);
        }
        if j >= want.len() || line[i] != want[j] {
            return None;
        }
        i += 1;
        j += 1;
    }
    // The line ended inside this field: it has no password.
    None
}

/// The password field: up to an unescaped `:` or the end, `\x` read as `x`.
fn unescape_password(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() && field[i] != b':' {
        if field[i] == b'\\' && i + 1 < field.len() {
            i += 1;
        }
        out.push(field[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(text: &str, host: &str, port: &str, db: &str, user: &str) -> Option<String> {
        lookup(text.as_bytes(), host, port, db, user).map(|p| String::from_utf8(p).unwrap())
    }

    #[test]
    fn the_first_matching_line_wins_and_stars_match_anything() {
        let file = "\
# comment: db.example.com:5432:*:alice:not-this
db.example.com:5432:tasks:alice:first
db.example.com:5432:*:alice:second
*:*:*:*:fallback
";
        assert_eq!(
            find(file, "db.example.com", "5432", "tasks", "alice").as_deref(),
            Some("first")
        );
        assert_eq!(
            find(file, "db.example.com", "5432", "other", "alice").as_deref(),
            Some("second")
        );
        assert_eq!(
            find(file, "db.example.com", "6432", "tasks", "alice").as_deref(),
            Some("fallback")
        );
        assert_eq!(find("db:5432:x:alice:pw", "db", "5432", "x", "bob"), None);
        // A prefix is not a match, nor is a longer name.
        assert_eq!(find("db:5432:x:alice:pw", "db", "5432", "x", "alic"), None);
        assert_eq!(find("db:5432:x:al:pw", "db", "5432", "x", "alice"), None);
    }

    #[test]
    fn backslashes_escape_colons_and_backslashes_in_every_field() {
        let file = "h\\:1:5432:d\\\\b:u:pa\\:ss\\\\word:ignored\r\n";
        assert_eq!(
            find(file, "h:1", "5432", "d\\b", "u").as_deref(),
            Some("pa:ss\\word")
        );
        // Windows line endings, an empty password, a line with too few fields.
        assert_eq!(
            find("h:5432:d:u:\r\n", "h", "5432", "d", "u").as_deref(),
            Some("")
        );
        assert_eq!(find("h:5432:d:u", "h", "5432", "d", "u"), None);
        assert_eq!(find("", "h", "5432", "d", "u"), None);
        // A literal star is not a wildcard when escaped.
        assert_eq!(find("\\*:5432:d:u:pw", "h", "5432", "d", "u"), None);
        assert_eq!(
            find("\\*:5432:d:u:pw", "*", "5432", "d", "u").as_deref(),
            Some("pw")
        );
    }

    #[test]
    fn the_servers_named_are_looked_up_as_libpq_names_them() {
        let config: tokio_postgres::Config =
            "host=/var/run/postgresql,db.example.com port=5433,5434 user=u"
                .parse()
                .unwrap();
        assert_eq!(
            targets(&config),
            [
                ("localhost".to_owned(), 5433),
                ("db.example.com".to_owned(), 5434)
            ]
        );
        let config: tokio_postgres::Config = "postgres://u@db.example.com/x".parse().unwrap();
        assert_eq!(targets(&config), [("db.example.com".to_owned(), 5432)]);
    }

    #[test]
    fn a_file_others_can_read_is_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        std::fs::write(&path, "*:*:*:*:pw\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_private(&path).as_deref(), Some(&b"*:*:*:*:pw\n"[..]));
        for mode in [0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(read_private(&path), None, "{mode:o}");
        }
        assert_eq!(read_private(dir.path()), None);
        assert_eq!(read_private(&dir.path().join("missing")), None);
    }
}
