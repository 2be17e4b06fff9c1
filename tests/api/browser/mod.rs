//! The live page and Swagger UI in a real headless Chromium (the harness:
//! `helpers::browser`).

pub(crate) mod account_panel;
pub(crate) mod live_page;
pub(crate) mod sign_up;
pub(crate) mod swagger;
pub(crate) mod token_expiry;
