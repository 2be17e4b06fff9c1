//! The live page and Swagger UI in a real headless Chromium (the harness:
//! `helpers::browser`).

mod account_panel;
mod live_page;
mod projects_page;
mod sign_up;
mod swagger;
mod token_expiry;
