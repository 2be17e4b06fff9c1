//! The human table and the JSON pieces of the summary.

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::server::round1;

/// One line of the table.
pub struct Row {
    pub scenario: String,
    /// `closed` or `open` (loop) for the HTTP load scenarios, empty for the others.
    pub mode: &'static str,
    pub rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub max_ms: Option<f64>,
    pub errors: u64,
    /// Open loop: requests intended in the window but never sent.
    pub late: Option<u64>,
    pub notes: String,
}

impl Row {
    pub fn new(scenario: &str) -> Row {
        Row {
            scenario: scenario.to_owned(),
            mode: "",
            rate: None,
            p50_ms: None,
            p90_ms: None,
            p99_ms: None,
            p999_ms: None,
            max_ms: None,
            errors: 0,
            late: None,
            notes: String::new(),
        }
    }

    pub fn latency(mut self, h: &Histogram<u64>) -> Row {
        if !h.is_empty() {
            let q = |q: f64| Some(ms(h.value_at_quantile(q)));
            self.p50_ms = q(0.50);
            self.p90_ms = q(0.90);
            self.p99_ms = q(0.99);
            self.p999_ms = q(0.999);
            self.max_ms = Some(ms(h.max()));
        }
        self
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Latency percentiles in milliseconds (the histogram holds microseconds).
pub fn latency_json(h: &Histogram<u64>) -> Value {
    if h.is_empty() {
        return Value::Null;
    }
    let q = |q: f64| ms(h.value_at_quantile(q));
    json!({
        "count": h.len(),
        "p50_ms": q(0.50),
        "p90_ms": q(0.90),
        "p99_ms": q(0.99),
        "p999_ms": q(0.999),
        "max_ms": ms(h.max()),
        "mean_ms": (h.mean() / 10.0).round() / 100.0,
    })
}

pub fn print_table(rows: &[Row]) {
    let fmt =
        |v: Option<f64>, prec: usize| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.prec$}"));
    let header = [
        "scenario", "mode", "req/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "errors",
        "late", "notes",
    ]
    .map(str::to_owned);
    let mut cells = vec![header];
    cells.extend(rows.iter().map(|r| {
        [
            r.scenario.clone(),
            if r.mode.is_empty() { "-" } else { r.mode }.to_owned(),
            fmt(r.rate.map(round1), 0),
            fmt(r.p50_ms, 2),
            fmt(r.p90_ms, 2),
            fmt(r.p99_ms, 2),
            fmt(r.p999_ms, 2),
            fmt(r.max_ms, 2),
            r.errors.to_string(),
            r.late.map_or_else(|| "-".to_owned(), |n| n.to_string()),
            r.notes.clone(),
        ]
    }));
    let last = cells[0].len() - 1;
    let mut widths = [0; 11];
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let rule = widths.map(|w| "-".repeat(w));
    cells.insert(1, rule);
    for row in &cells {
        let mut s = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            if i == last {
                s.push_str(c);
            } else if i < 2 {
                s.push_str(&format!("{c:<w$}  "));
            } else {
                s.push_str(&format!("{c:>w$}  "));
            }
        }
        println!("{}", s.trim_end());
    }
}
