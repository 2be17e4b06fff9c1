//! The live page and Swagger UI in a real headless Chromium (the harness:
//! `helpers::browser`).

pub(crate) mod live_page;
