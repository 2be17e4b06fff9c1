//! The OpenAPI document: fresh and served, shaped as clients expect, and as the linters
//! ask.

use serde_json::Value;

pub(crate) mod lint;
pub(crate) mod served;
pub(crate) mod shape;

/// The generated document, parsed.
fn spec() -> Value {
    serde_json::from_str(&tasklane::api::spec_json()).expect("the document is JSON")
}
