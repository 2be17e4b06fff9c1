//! The HTTP side of safe retries and lost-update prevention: `ETag`s of task versions,
//! `If-Match` and `If-None-Match`, the hash that tells an `Idempotency-Key`'s requests
//! apart, and the `Link` to a list's next page.

use serde_json::{Map, Value};

use crate::model::Ordering;
use crate::store::keyset::Cursor;
use crate::store::tasks::{IfMatch, TaskQuery};

/// The strong `ETag` of a task version.
pub(super) fn etag(version: i64) -> String {
    format!("\"v{version}\"")
}

/// `If-Match`: `*`, or a list of strong tags. Weak or unknown tags match nothing.
pub(in crate::api) fn parse_if_match(header: &str) -> IfMatch {
    if header.trim() == "*" {
        return IfMatch::Any;
    }
    IfMatch::Versions(
        header
            .split(',')
            .filter_map(|t| {
                t.trim()
                    .strip_prefix("\"v")?
                    .strip_suffix('"')?
                    .parse()
                    .ok()
            })
            .collect(),
    )
}

/// `If-None-Match` uses the weak comparison: `W/"v3"` matches version 3 too.
pub(super) fn none_match_hits(header: &str, version: i64) -> bool {
    tags_match(header, &etag(version))
}

/// `If-None-Match` against an opaque strong tag (quoted), with the weak comparison.
pub(super) fn tags_match(header: &str, tag: &str) -> bool {
    header.trim() == "*"
        || header.split(',').any(|t| {
            let t = t.trim();
            t.strip_prefix("W/").unwrap_or(t) == tag
        })
}

/// A stable hash of a request's fields (key order does not matter).
pub(super) fn request_hash(data: &Map<String, Value>) -> String {
    fn canonical(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), canonical(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
            v => v.clone(),
        }
    }
    use sha2::Digest;
    let text = canonical(&Value::Object(data.clone())).to_string();
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// `<…>; rel="next"`: the next page of the list, with the same filters, starting after
/// `next` (a keyset cursor: no offset); on `base` (the `--public-url` origin) when given,
/// else relative (right behind any proxy).
pub(super) fn next_link(
    base: Option<&str>,
    q: &TaskQuery,
    ordering: Option<Ordering>,
    next: &Cursor,
) -> String {
    let mut params: Vec<(&'static str, String)> = Vec::new();
    if let Some(c) = q.completed {
        params.push(("completed", c.to_string()));
    }
    if let Some(s) = &q.search {
        params.push(("search", s.clone()));
    }
    super::filters::link_params(q, &mut params);
    if let Some(o) = ordering {
        params.push(("ordering", o.as_str().to_owned()));
    }
    params.push(("limit", q.limit.to_string()));
    if q.count {
        params.push(("count", "true".to_owned()));
    }
    params.push(("cursor", next.encode()));
    let query = serde_urlencoded::to_string(&params).unwrap_or_default();
    format!("<{}/api/tasks/?{query}>; rel=\"next\"", base.unwrap_or(""))
}
