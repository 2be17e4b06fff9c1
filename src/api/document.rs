//! The OpenAPI document: the operations and the document's metadata ([`service`]), and
//! the last touches to what poem-openapi writes, where it cannot say what OpenAPI means: the standard linters (Redocly's `recommended`, Spectral's `spectral:oas`;
//! `scripts/openapi_lint.sh`) check the result. Each rule here holds for every operation,
//! so a route added later is covered without a word.

use poem_openapi::{LicenseObject, OpenApiService, ServerObject};
use serde_json::{Map, Value};

use super::Api;

const DESCRIPTION: &str = "\
Task-management API. Every task belongs to the user who created it; nobody else can see \
or change it (another user's task is a 404).

**Try it here:** `POST /api/register/` an account, press **Authorize** and log in with \
its username and password under `oauth2` (OAuth 2.0's password flow, at \
`POST /api/oauth/token/`), then call the task routes. Or `POST /api/token/` and paste \
its `access` value under `bearerAuth`. Access tokens last 5 minutes by default; \
`POST /api/token/refresh/` trades the refresh token for a new pair (the old refresh \
token is spent).

Errors have Django REST framework's shapes: `{\"field\": [\"message\"]}` for invalid \
input, `{\"detail\": \"…\"}` otherwise. Bodies may be JSON or form-encoded. Every path \
also works without its trailing slash.";

/// The OpenAPI service: the operations, plus the document's metadata. The one server is
/// `/`: wherever the document was fetched from (OpenAPI's own default, spelled out because
/// the linters want `servers` non-empty). Each deployment has its own origin, so the
/// document names none.
pub fn service() -> OpenApiService<Api, ()> {
    OpenApiService::new(Api::default(), "tasklane", env!("CARGO_PKG_VERSION"))
        .description(DESCRIPTION)
        .license(LicenseObject::new("MIT").url("https://opensource.org/license/mit"))
        .server(ServerObject::new("/").description("This server: the origin serving this document"))
}

/// The OpenAPI document as pretty JSON, exactly as committed in `openapi/openapi.json`.
pub fn spec_json() -> String {
    let mut s = spec();
    s.push('\n');
    s
}

/// The OpenAPI document as served: poem-openapi's, finished by [`finish`].
pub fn spec() -> String {
    finish(service().spec())
}

/// The HTTP methods that name an operation in a path item (OpenAPI 3.0).
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `spec` (poem-openapi's JSON) with [`public_operations`] and [`oauth_scopes`] applied,
/// pretty-printed as poem-openapi prints it. Unparseable input is returned unchanged.
pub fn finish(spec: String) -> String {
    let Ok(mut doc) = serde_json::from_str::<Value>(&spec) else {
        return spec;
    };
    public_operations(&mut doc);
    oauth_scopes(&mut doc);
    nullable_refs(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or(spec)
}

/// An operation without a security requirement is public (register, log in, refresh…),
/// but poem-openapi then leaves `security` out, which in OpenAPI means "whatever the
/// document's root says" and to a linter "forgotten". `security: []` says "no
/// credentials needed". The document has no root `security`, so the meaning is unchanged.
pub fn public_operations(doc: &mut Value) {
    let paths = doc.get_mut("paths").and_then(Value::as_object_mut);
    for item in paths.into_iter().flat_map(|p| p.values_mut()) {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if let (true, Some(op)) = (METHODS.contains(&method.as_str()), op.as_object_mut())
                && !op.contains_key("security")
            {
                op.insert("security".into(), Value::Array(Vec::new()));
            }
        }
    }
}

/// poem-openapi leaves an OAuth flow's `scopes` out when it has none, but OpenAPI 3.0
/// requires the field (an empty map when the server defines no scopes): put it back.
pub fn oauth_scopes(doc: &mut Value) {
    let schemes = doc
        .pointer_mut("/components/securitySchemes")
        .and_then(Value::as_object_mut);
    for scheme in schemes.into_iter().flat_map(|s| s.values_mut()) {
        let flows = scheme.get_mut("flows").and_then(Value::as_object_mut);
        for flow in flows.into_iter().flat_map(|f| f.values_mut()) {
            if let Some(flow) = flow.as_object_mut() {
                flow.entry("scopes")
                    .or_insert_with(|| Value::Object(Map::new()));
            }
        }
    }
}

/// poem-openapi writes a nullable reference (`Option<UserRef>` marked nullable) as
/// `nullable: true, allOf: [{$ref}, {nullable: true}]`: a `nullable` without the `type`
/// OpenAPI 3.0 wants beside it, which openapi-typescript refuses, and which
/// openapi-python-client reads as never null. Rewrite it as
/// `anyOf: [{$ref}, {type: object, nullable: true}]`, which both generators (and both
/// linters) read as "this object or null".
pub fn nullable_refs(doc: &mut Value) {
    match doc {
        Value::Object(map) => {
            let is_nullable_ref = map
                .get("allOf")
                .and_then(Value::as_array)
                .is_some_and(|all| {
                    all.len() == 2
                        && all[0].get("$ref").is_some()
                        && all[1] == serde_json::json!({"nullable": true})
                });
            if is_nullable_ref && let Some(Value::Array(mut all)) = map.remove("allOf") {
                all[1] = serde_json::json!({"type": "object", "nullable": true});
                map.insert("anyOf".into(), Value::Array(all));
                map.remove("nullable");
                map.remove("type");
            }
            for value in map.values_mut() {
                nullable_refs(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::finish;

    #[test]
    fn operations_without_security_become_explicitly_public_and_others_keep_theirs() {
        let raw = json!({
            "paths": {
                "/open": {"post": {"operationId": "open"}, "parameters": []},
                "/closed": {"get": {"security": [{"bearerAuth": []}]}},
            },
            "components": {"securitySchemes": {"oauth2": {"flows": {"password": {}}}}},
        });
        let done: serde_json::Value = serde_json::from_str(&finish(raw.to_string())).unwrap();
        assert_eq!(done["paths"]["/open"]["post"]["security"], json!([]));
        assert_eq!(done["paths"]["/open"]["parameters"], json!([]));
        assert_eq!(
            done["paths"]["/closed"]["get"]["security"],
            json!([{"bearerAuth": []}])
        );
        assert_eq!(
            done["components"]["securitySchemes"]["oauth2"]["flows"]["password"]["scopes"],
            json!({})
        );
        assert_eq!(finish("not json".into()), "not json");
    }
}
