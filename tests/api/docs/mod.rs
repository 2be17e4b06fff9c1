//! The docs and the generated references: the OpenAPI document, the links and command
//! lines of the Markdown pages.

mod configuration;
mod links;
mod openapi;
mod walk_through;
