//! The docs and the generated references: the OpenAPI document, the links and command
//! lines of the Markdown pages.

pub(crate) mod configuration;
pub(crate) mod links;
pub(crate) mod openapi;
pub(crate) mod walk_through;
