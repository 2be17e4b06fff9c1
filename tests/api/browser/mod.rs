//! The live page (also at 100,000 tasks) and Swagger UI in a real headless Chromium (the harness:
//! `helpers::browser`).

mod account_panel;
mod at_scale;
mod live_page;
mod projects_page;
mod sign_up;
mod swagger;
mod token_expiry;
