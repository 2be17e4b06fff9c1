//! Response header names in the OpenAPI document, spelled as they usually are (`ETag`,
//! not `ETAG`): a wrapper around the operations that rewrites them in the document only.

use std::collections::HashMap;

use poem::{endpoint::BoxEndpoint, http::Method};
use poem_openapi::OpenApi;
use poem_openapi::registry::{MetaApi, Registry};

/// The response headers the API documents, spelled as they usually are. poem-openapi
/// upper-cases a response header's name in the document (`ETAG`); [`HeaderCase`] puts
/// these spellings back.
pub const RESPONSE_HEADERS: &[&str] = &[
    "Cache-Control",
    "ETag",
    "Idempotent-Replayed",
    "Link",
    "Pragma",
    "Retry-After",
    "WWW-Authenticate",
    "X-Last-Event-Id",
    "X-Total-Count",
    "X-Total-Count-Capped",
];

/// `name` as spelled in [`RESPONSE_HEADERS`] (compared ignoring case); another name is
/// capitalised word by word (`X-FOO-BAR` → `X-Foo-Bar`).
pub fn header_case(name: &str) -> String {
    if let Some(known) = RESPONSE_HEADERS
        .iter()
        .find(|h| h.eq_ignore_ascii_case(name))
    {
        return (*known).to_owned();
    }
    name.split('-')
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The operations `A`, with their response headers' names in the document passed through
/// [`header_case`]. Routing and the responses themselves are `A`'s, untouched (header
/// names are case-insensitive on the wire; HTTP/2 sends them in lower case anyway).
#[derive(Default)]
pub struct HeaderCase<A>(A);

impl<A: OpenApi> OpenApi for HeaderCase<A> {
    fn meta() -> Vec<MetaApi> {
        let mut apis = A::meta();
        let headers = apis
            .iter_mut()
            .flat_map(|api| &mut api.paths)
            .flat_map(|path| &mut path.operations)
            .flat_map(|op| &mut op.responses.responses)
            .flat_map(|response| &mut response.headers);
        for header in headers {
            header.name = header_case(&header.name);
        }
        apis
    }

    fn register(registry: &mut Registry) {
        A::register(registry);
    }

    fn add_routes(self, route_table: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {
        self.0.add_routes(route_table);
    }
}

#[cfg(test)]
mod tests {
    use super::header_case;

    #[test]
    fn known_headers_get_their_usual_spelling_and_others_are_capitalised() {
        assert_eq!(header_case("ETAG"), "ETag");
        assert_eq!(header_case("WWW-AUTHENTICATE"), "WWW-Authenticate");
        assert_eq!(header_case("x-last-event-id"), "X-Last-Event-Id");
        assert_eq!(header_case("X-REQUEST-ID"), "X-Request-Id");
        assert_eq!(header_case("CONTENT-LOCATION"), "Content-Location");
    }
}
