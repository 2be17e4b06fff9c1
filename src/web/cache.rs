//! `Cache-Control` for every response, decided in one place.
//!
//! Everything under `/api/` and `/ws/` carries an account's data or a secret (tokens,
//! tickets, tasks, the account, its events), or says something about one (a 401, a 404):
//! `no-store`, so neither a shared cache nor the browser's keeps it. The one exception is
//! reading tasks (`GET /api/tasks/` and `GET /api/tasks/{id}/`, 200 and 304): they carry
//! an `ETag`, so `private, no-cache` lets the client's own cache keep the body and
//! revalidate it with `If-None-Match` on every use (a 304 while nothing changed), and
//! still no shared cache may store it. They hold no secret. The docs pages, the live
//! page's files, `/healthz` and `/metrics` carry no account data and are left to their
//! handlers.

use poem::http::{Method, StatusCode};

/// The `Cache-Control` of the response to `method` on `path` (whose route template is
/// `route`, when it matched one) with `status`; `None` to leave the response's own.
pub fn policy(
    method: &Method,
    path: &str,
    route: Option<&str>,
    status: StatusCode,
) -> Option<&'static str> {
    if !(path.starts_with("/api/") || path == "/api" || path.starts_with("/ws/")) {
        return None;
    }
    let read = *method == Method::GET || *method == Method::HEAD;
    let revalidated = status == StatusCode::OK || status == StatusCode::NOT_MODIFIED;
    match route {
        Some("/api/tasks" | "/api/tasks/{id}") if read && revalidated => Some("private, no-cache"),
        _ => Some("no-store"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_account_data_are_never_stored_and_task_reads_are_revalidated() {
        let ok = StatusCode::OK;
        for (method, path, route) in [
            (Method::POST, "/api/token", Some("/api/token")),
            (
                Method::POST,
                "/api/token/refresh",
                Some("/api/token/refresh"),
            ),
            (
                Method::POST,
                "/api/stream-tickets",
                Some("/api/stream-tickets"),
            ),
            (Method::GET, "/api/users/me", Some("/api/users/me")),
            (Method::GET, "/api/tokens", Some("/api/tokens")),
            (Method::GET, "/api/changes", Some("/api/changes")),
            (Method::GET, "/api", Some("/api")),
            (Method::POST, "/api/tasks", Some("/api/tasks")),
            (Method::GET, "/api/nope", None),
            (Method::GET, "/ws/tasks", Some("/ws/tasks")),
        ] {
            assert_eq!(
                policy(&method, path, route, ok),
                Some("no-store"),
                "{method} {path}"
            );
        }
        for status in [StatusCode::OK, StatusCode::NOT_MODIFIED] {
            assert_eq!(
                policy(
                    &Method::GET,
                    "/api/tasks/7",
                    Some("/api/tasks/{id}"),
                    status
                ),
                Some("private, no-cache")
            );
            assert_eq!(
                policy(&Method::HEAD, "/api/tasks", Some("/api/tasks"), status),
                Some("private, no-cache")
            );
        }
        assert_eq!(
            policy(
                &Method::GET,
                "/api/tasks",
                Some("/api/tasks"),
                StatusCode::UNAUTHORIZED
            ),
            Some("no-store")
        );
        for path in [
            "/swagger",
            "/real_data/app.js",
            "/healthz",
            "/openapi.json",
            "/apiary",
        ] {
            assert_eq!(policy(&Method::GET, path, None, ok), None, "{path}");
        }
    }
}
