//! The OpenAPI document: fresh, served, shaped as clients expect, and as the linters ask.

pub(crate) mod lint;
pub(crate) mod shape;
