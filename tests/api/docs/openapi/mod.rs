//! The OpenAPI document: fresh and served, shaped as clients expect, and as the linters
//! ask.

mod lint;
mod served;
mod shape;

use serde_json::Value;

/// The generated document, parsed.
fn spec() -> Value {
    serde_json::from_str(&tasklane::api::spec_json()).expect("the document is JSON")
}
