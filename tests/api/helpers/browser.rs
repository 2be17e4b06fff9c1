//! The browser harness: a real headless Chromium, driven through chromedriver (started as
//! a child process) with fantoccini, and what the browser tests read from the page.
//!
//! Without `/usr/bin/chromium` or `/usr/bin/chromedriver`, [`browser`] prints `SKIPPED`
//! and the test passes, unless `REQUIRE_BROWSER=1`, when it fails. Set
//! `REAL_DATA_SCREENSHOT=<path.png>` to keep screenshots of the live page.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::{Method, Url};
use serde_json::{Value, json};
use tempfile::TempDir;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long any one thing may take to show up in the page.
const WAIT: Duration = Duration::from_secs(10);

/// A headless Chromium session; dropping it ends the session and kills chromedriver.
pub struct Browser {
    pub client: Client,
    _driver: Driver,
    port: u16,
    session: Option<String>,
    _profile: TempDir,
}

/// Starts chromedriver and a browser session, or `None` (after a loud `SKIPPED`) when
/// the browser is not installed and `REQUIRE_BROWSER` is not `1`.
pub async fn browser() -> Option<Browser> {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if !missing.is_empty() {
        let why = format!(
            "{} not installed (apt-get install chromium chromium-driver)",
            missing.join(" and ")
        );
        if std::env::var("REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("REQUIRE_BROWSER=1 but {why}");
        }
        eprintln!("SKIPPED: browser test: {why}");
        return None;
    }

    let port = free_port();
    let driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let profile = tempfile::tempdir().expect("profile dir");
    let mut browser = Browser {
        client: connect(port, &profile).await,
        _driver: driver,
        port,
        session: None,
        _profile: profile,
    };
    browser.session = browser.client.session_id().await.ok().flatten();
    browser
        .client
        .set_window_size(1200, 900)
        .await
        .expect("window size");
    Some(browser)
}

/// chromedriver, killed when dropped (also when a test panics).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn connect(port: u16, profile: &TempDir) -> Client {
    let base = format!("http://127.0.0.1:{port}/");
    // chromedriver takes a moment to listen.
    let http = reqwest::Client::new();
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(r) = http.get(format!("{base}status")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not answer on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let caps: Capabilities = serde_json::from_value(json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        },
        "goog:loggingPrefs": { "browser": "ALL" },
    }))
    .expect("capabilities");
    // The test build links two rustls crypto providers (tasklane's ring, fantoccini's
    // aws-lc-rs), so rustls cannot pick a default by itself: name one. (The shipped
    // binary has ring only.)
    let _ = rustls::crypto::ring::default_provider().install_default();
    ClientBuilder::rustls()
        .expect("rustls connector")
        .capabilities(caps)
        .connect(&base)
        .await
        .expect("browser session")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl Browser {
    /// Ends the session (Chromium quits) and stops chromedriver.
    pub async fn quit(mut self) {
        let _ = self.client.clone().close().await;
        self.session = None;
    }

    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed ({e}): {script}"))
    }

    /// Polls `check` every 100 ms until it gives `Some`, for at most [`WAIT`]; on time-out
    /// fails with `what` and the page's visible text.
    pub async fn until<T>(&self, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(v) = check().await {
                return v;
            }
            if Instant::now() >= deadline {
                let text = self.js("return document.body.innerText", vec![]).await;
                panic!(
                    "timed out after {WAIT:?} waiting for {what}; the page shows:\n{}",
                    text.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The row of task `id` as `{title, checked}`, or null when it is not in the list.
    pub async fn task_row(&self, id: i64) -> Value {
        self.js(
            "const li = document.querySelector(`#tasks li.task[data-task-id=\"${arguments[0]}\"]`);
             return li && { title: li.querySelector('.task-title').textContent,
                            checked: li.querySelector('input[type=checkbox]').checked };",
            vec![json!(id)],
        )
        .await
    }

    /// The id of the row whose title is `title`, if there is one.
    pub async fn task_id_titled(&self, title: &str) -> Option<i64> {
        self.js(
            "const li = [...document.querySelectorAll('#tasks li.task')]
                 .find(li => li.querySelector('.task-title').textContent === arguments[0]);
             return li ? Number(li.dataset.taskId) : null;",
            vec![json!(title)],
        )
        .await
        .as_i64()
    }

    /// The `textContent` of the element at `css` ("" when there is none).
    pub async fn text(&self, css: &str) -> String {
        let v = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
                vec![json!(css)],
            )
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the element at `css` shows a text containing `needle`.
    pub async fn until_text(&self, css: &str, needle: &str) -> String {
        self.until(&format!("{needle:?} in {css}"), async || {
            Some(self.text(css).await).filter(|t| t.contains(needle))
        })
        .await
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .expect(css)
            .click()
            .await
            .expect("click");
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.client.find(Locator::Css(css)).await.expect(css);
        input.clear().await.expect("clear");
        input.send_keys(text).await.expect("type");
    }

    pub async fn submit(&self, form: &str) {
        self.client
            .form(Locator::Css(form))
            .await
            .expect(form)
            .submit()
            .await
            .expect("submit");
    }

    /// The browser console's messages so far (chromedriver's log endpoint).
    pub async fn console(&self) -> Vec<String> {
        let entries = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("browser log");
        entries
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| format!("{} {}", e["level"], e["message"]))
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // On a panic the session is still open: end it so Chromium quits with it.
        if let Some(id) = &self.session {
            let _ = delete_session(self.port, id);
        }
        // `_driver` drops next and kills chromedriver.
    }
}

/// `DELETE /session/<id>` over a plain socket: `Drop` cannot await.
fn delete_session(port: u16, id: &str) -> std::io::Result<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).map(|_| ())
}

/// chromedriver's (non-W3C) `POST /session/<id>/se/log` for the `browser` log.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &Url, session: Option<&str>) -> Result<Url, <Url as FromStr>::Err> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &Url) -> (Method, Option<String>) {
        (Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// chromedriver's `POST /session/<id>/goog/cdp/execute`: a DevTools command.
#[derive(Debug)]
pub struct Cdp(pub Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &Url, session: Option<&str>) -> Result<Url, <Url as FromStr>::Err> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &Url) -> (Method, Option<String>) {
        (Method::POST, Some(self.0.to_string()))
    }
}

/// Console lines that are errors, beyond the API's expected 4xx answers and the requests
/// a test blocked on purpose.
pub fn console_errors(console: &[String]) -> Vec<&String> {
    console
        .iter()
        .filter(|m| {
            m.contains("Content Security Policy")
                || (m.contains("SEVERE")
                    && !m.contains(
                        "Failed to load resource: the server responded with a status of 4",
                    )
                    && !m.contains("ERR_BLOCKED_BY_CLIENT"))
        })
        .collect()
}

impl Browser {
    /// With `REAL_DATA_SCREENSHOT=<path.png>`, keeps a screenshot as `<path>-<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        if let Ok(path) = std::env::var("REAL_DATA_SCREENSHOT") {
            let path = path.replace(".png", &format!("-{name}.png"));
            let png = self.client.screenshot().await.expect("screenshot");
            std::fs::write(&path, png).expect("write screenshot");
            eprintln!("screenshot: {path}");
        }
    }

    /// Records CSP violations in `window.cspViolations` (read at the end of a test).
    pub async fn watch_csp(&self) {
        self.js(
            "window.cspViolations = [];
             document.addEventListener('securitypolicyviolation',
                 e => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));",
            vec![],
        )
        .await;
    }

    pub async fn until_connected(&self, what: &str) {
        self.until(what, async || {
            let v = self
                .js(
                    "return document.querySelector('#status').dataset.state === 'connected'
                         && !document.querySelector('#app-view').hidden",
                    vec![],
                )
                .await;
            (v == json!(true)).then_some(())
        })
        .await;
    }

    /// `[open, done]` as the counts show them.
    pub async fn counts(&self) -> Value {
        self.js(
            "return [document.querySelector('#count-open').textContent,
                     document.querySelector('#count-done').textContent]",
            vec![],
        )
        .await
    }

    /// The newest feed entry as `{text, origin}`, or null.
    pub async fn feed_top(&self) -> Value {
        self.js(
            "const li = document.querySelector('#feed li');
             return li && { text: li.querySelector('.feed-text').textContent,
                            origin: li.dataset.origin };",
            vec![],
        )
        .await
    }

    /// Whether task `id`'s row is lit up as changed elsewhere.
    pub async fn flashing(&self, id: i64) -> bool {
        self.js(
            "const li = document.querySelector(`#tasks li[data-task-id=\"${arguments[0]}\"]`);
             return Boolean(li && li.classList.contains('flash'));",
            vec![json!(id)],
        )
        .await
            == json!(true)
    }

    /// Waits until the newest feed entry says `text`, from `origin`; then whether task
    /// `id`'s row is lit up (both are done in the same turn of the page's event loop).
    pub async fn until_feed(&self, text: &str, origin: &str, id: i64) -> bool {
        self.until(&format!("{text:?} ({origin}) in the feed"), async || {
            let top = self.feed_top().await;
            (top["text"] == text && top["origin"] == origin).then_some(())
        })
        .await;
        self.flashing(id).await
    }
}

impl Browser {
    /// How many rows the task list shows.
    pub async fn row_count(&self) -> usize {
        let n = self
            .js(
                "return document.querySelector('#tasks').childElementCount",
                vec![],
            )
            .await;
        n.as_u64().expect("a count") as usize
    }

    /// Scrolls to the bottom of the page, and again each time rows are added (each new
    /// page of the list loading as its end comes into view), until the list shows `rows`
    /// rows and has no more to load; fails after `within`. How long it took. (The page
    /// scrolls itself, so a slow WebDriver round trip does not hold the list back.)
    pub async fn scroll_to_end(&self, rows: usize, within: Duration) -> Duration {
        self.scroll_down(rows, true, within).await
    }

    /// Like [`Browser::scroll_to_end`], until the list shows at least `rows` rows (`end`:
    /// exactly `rows`, and no more to load).
    pub async fn scroll_down(&self, rows: usize, end: bool, within: Duration) -> Duration {
        let started = Instant::now();
        self.js(
            "const down = () => window.scrollTo(0, document.documentElement.scrollHeight);
             window.scrollObserver = new MutationObserver(down);
             window.scrollObserver.observe(document.querySelector('#tasks'), { childList: true });
             down();",
            vec![],
        )
        .await;
        loop {
            let v = self
                .js(
                    "return [document.querySelector('#tasks').childElementCount,
                             document.querySelector('#more').hidden];",
                    vec![],
                )
                .await;
            let shown = v[0].as_u64().unwrap_or_default() as usize;
            if (end && v == json!([rows, true])) || (!end && shown >= rows) {
                self.js("window.scrollObserver.disconnect()", vec![]).await;
                return started.elapsed();
            }
            if started.elapsed() > within {
                panic!(
                    "after {within:?} of scrolling, [rows shown, at the end] is {v}, not [{rows}, {end}]"
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

pub fn row_css(id: i64) -> String {
    format!("#tasks li[data-task-id=\"{id}\"]")
}
