//! A database URL as it may be shown: with its password hidden (see [`redact`]). Used
//! wherever a URL reaches a log line, an error or the screen: the PostgreSQL store, the
//! configuration's `DatabaseUrl`, the import command, and the benchmark harness.

/// `url` with its password (in the user part, or a `password=` parameter) replaced by
/// `***`: the only form in which a database URL is logged or shown. Parameter keys are
/// read as tokio-postgres reads them, percent-decoded (`%70assword` is `password`; any
/// key or value that decodes, once or more, to text containing `password` is hidden,
/// `sslpassword` too). When the URL is malformed it errs on the side of hiding more
/// (everything from the user part's first `:`, written or encoded, to its last `@`), never
/// less.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return redact_keywords(url);
    };
    let (head, rest) = url.split_at(scheme_end);
    let masked = match rest.rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let colon = userinfo.find(':').into_iter().chain(
                // An encoded colon: no driver splits there, but it may be meant as one.
                userinfo.to_ascii_lowercase().find("%3a").map(|i| i + 2),
            );
            match colon.min() {
                Some(colon) => format!("{head}{}***{}", &rest[..=colon], &rest[at..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    };
    match masked.split_once('?') {
        Some((base, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) if names_password(k) || names_password(v) => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
        None => masked,
    }
}

/// Whether `s`, percent-decoded as often as it changes, mentions a password.
fn names_password(s: &str) -> bool {
    let mut s = s.to_owned();
    for _ in 0..4 {
        if s.to_ascii_lowercase().contains("password") {
            return true;
        }
        let decoded = percent_decode(&s);
        if decoded == s {
            return false;
        }
        s = decoded;
    }
    // Encoded more than four times over: hide it.
    true
}

/// A `key=value key='quoted value'` connection string with the password's value hidden.
fn redact_keywords(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("password") {
        let after = &rest[i + "password".len()..];
        let value = after.trim_start();
        let Some(value) = value.strip_prefix('=') else {
            out.push_str(&rest[..i + "password".len()]);
            rest = after;
            continue;
        };
        let value = value.trim_start();
        // Skip the value: up to the closing quote (`\'` escapes one), or the next space.
        let len = if let Some(quoted) = value.strip_prefix('\'') {
            let mut escaped = false;
            let end = quoted
                .char_indices()
                .find(|&(_, c)| {
                    let close = c == '\'' && !escaped;
                    escaped = c == '\\' && !escaped;
                    close
                })
                .map_or(quoted.len(), |(j, _)| j + 1);
            1 + end
        } else {
            value.find(char::is_whitespace).unwrap_or(value.len())
        };
        out.push_str(&rest[..i]);
        out.push_str("password=***");
        rest = &value[len..];
    }
    out.push_str(rest);
    out
}

/// `s` with its `%XX` escapes decoded (as tokio-postgres decodes URL parameters); an
/// escape that is not two hex digits stays as written, and invalid UTF-8 becomes U+FFFD.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_the_password_and_nothing_else() {
        for (url, shown) in [
            (
                "postgres://alice:s3cret@db.example:5432/tasks?sslmode=verify-full",
                "postgres://alice:***@db.example:5432/tasks?sslmode=verify-full",
            ),
            (
                "postgresql://alice:p%40ss:w/rd@db/tasks",
                "postgresql://alice:***@db/tasks",
            ),
            ("postgres://p@ss@db/tasks", "postgres://p@ss@db/tasks"),
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            (
                "postgres://db/tasks?user=bob&password=hunter2&sslmode=require",
                "postgres://db/tasks?user=bob&password=***&sslmode=require",
            ),
            (
                "postgres://db/tasks?password=hunter2",
                "postgres://db/tasks?password=***",
            ),
            (
                "host=db user=bob password=hunter2 dbname=tasks",
                "host=db user=bob password=*** dbname=tasks",
            ),
            (
                "host=db password = 'a \\' b' dbname=tasks",
                "host=db password=*** dbname=tasks",
            ),
            ("host=db password=hunter2", "host=db password=***"),
            // Malformed: more is hidden, never less.
            ("postgres://alice:pa?ss@db/x", "postgres://alice:***@db/x"),
            (
                "postgres://db/x?password=a@b",
                "postgres://db/x?password=***",
            ),
            ("postgres://db:5432/t?x=a@b", "postgres://db:***@b"),
            ("postgres://db", "postgres://db"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn redact_decodes_keys_before_deciding() {
        for (url, shown) in [
            (
                "postgres://db/x?%70assword=HUNTER2",
                "postgres://db/x?%70assword=***",
            ),
            (
                "postgres://db/x?sslmode=require&pa%73%73word=HUNTER2",
                "postgres://db/x?sslmode=require&pa%73%73word=***",
            ),
            (
                "postgres://db/x?%50%41%53%53%57%4F%52%44=HUNTER2",
                "postgres://db/x?%50%41%53%53%57%4F%52%44=***",
            ),
            (
                "postgres://db/x?%2570assword=HUNTER2",
                "postgres://db/x?%2570assword=***",
            ),
            (
                "postgres://db/x?sslpassword=HUNTER2&user=bob",
                "postgres://db/x?sslpassword=***&user=bob",
            ),
            (
                "postgres://db/x?user=bob&a=1?password=HUNTER2",
                "postgres://db/x?user=bob&a=***",
            ),
            // The user part: a password however it is encoded, and an encoded colon.
            ("postgres://bob:%48UNTER2@db/x", "postgres://bob:***@db/x"),
            ("postgres://bob:HUN%40TER2@db/x", "postgres://bob:***@db/x"),
            ("postgres://bob%3AHUNTER2@db/x", "postgres://bob%3A***@db/x"),
            (
                "postgres://bob%3aHUNTER2:more@db/x",
                "postgres://bob%3a***@db/x",
            ),
            (
                "postgres://db/x?application_name=tasklane",
                "postgres://db/x?application_name=tasklane",
            ),
        ] {
            let redacted = redact(url);
            assert_eq!(redacted, shown, "{url}");
            assert!(!redacted.contains("HUNTER2"), "{url}");
        }
    }
}
