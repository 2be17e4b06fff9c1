//! Which methods each path answers, for the `Allow` header on 405s and on `OPTIONS`
//! (RFC 9110), read once from the generated OpenAPI document plus the plain pages.

use serde_json::Value;

/// Path templates (`{id}` matches one segment) and the methods they answer.
pub struct AllowTable(Vec<Entry>);

struct Entry {
    template: String,
    segments: Vec<String>,
    methods: String,
}

impl AllowTable {
    /// The operations of the OpenAPI document `spec`, then `pages` (paths outside it, which
    /// answer GET).
    pub fn from_spec<'a>(spec: &str, pages: impl IntoIterator<Item = &'a str>) -> AllowTable {
        let mut table = Vec::new();
        let doc: Value = serde_json::from_str(spec).unwrap_or_default();
        if let Some(paths) = doc["paths"].as_object() {
            for (path, ops) in paths {
                let mut methods: Vec<String> = ops
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_ascii_uppercase()).collect())
                    .unwrap_or_default();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                methods.push("OPTIONS".into());
                table.push(Entry {
                    template: path.clone(),
                    segments: segments(path),
                    methods: methods.join(", "),
                });
            }
        }
        for page in pages {
            table.push(Entry {
                template: page.to_owned(),
                segments: segments(page),
                methods: "GET, HEAD, OPTIONS".into(),
            });
        }
        AllowTable(table)
    }

    /// The `Allow` value for a request path (already without its trailing slash).
    pub fn for_path(&self, path: &str) -> Option<&str> {
        self.lookup(path).map(|e| e.methods.as_str())
    }

    /// The route template a path belongs to (`/api/tasks/{id}`), for metric labels.
    pub fn route(&self, path: &str) -> Option<&str> {
        self.lookup(path).map(|e| e.template.as_str())
    }

    /// Runs on every request: compares segment by segment without allocating.
    fn lookup(&self, path: &str) -> Option<&Entry> {
        let parts = || path.split('/').filter(|s| !s.is_empty());
        let n = parts().count();
        self.0.iter().find(|e| {
            e.segments.len() == n
                && e.segments
                    .iter()
                    .zip(parts())
                    .all(|(t, w)| t == w || (t.starts_with('{') && t.ends_with('}')))
        })
    }
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_ids_and_pages_are_known() {
        let t = AllowTable::from_spec(
            r#"{"paths": {"/api/tasks": {"get": {}, "post": {}}, "/api/tasks/{id}": {"get": {}, "delete": {}}}}"#,
            crate::web::PAGES.iter().map(|page| page.path),
        );
        assert_eq!(t.for_path("/api/tasks"), Some("GET, POST, HEAD, OPTIONS"));
        assert_eq!(
            t.for_path("/api/tasks/7"),
            Some("GET, DELETE, HEAD, OPTIONS")
        );
        assert_eq!(t.for_path("/healthz"), Some("GET, HEAD, OPTIONS"));
        assert_eq!(t.for_path("/api/nope"), None);
        assert_eq!(t.route("/api/tasks/7"), Some("/api/tasks/{id}"));
    }
}
