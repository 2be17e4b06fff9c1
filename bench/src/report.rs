//! The human table and the JSON pieces of the summary.

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::server::round1;

/// One line of the table.
pub struct Row {
    pub scenario: String,
    pub rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub errors: u64,
    pub notes: String,
}

impl Row {
    pub fn new(scenario: &str) -> Row {
        Row {
            scenario: scenario.to_owned(),
            rate: None,
            p50_ms: None,
            p99_ms: None,
            errors: 0,
            notes: String::new(),
        }
    }

    pub fn latency(mut self, h: &Histogram<u64>) -> Row {
        if !h.is_empty() {
            self.p50_ms = Some(ms(h.value_at_quantile(0.50)));
            self.p99_ms = Some(ms(h.value_at_quantile(0.99)));
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
    let header = ["scenario", "req/s", "p50 ms", "p99 ms", "errors", "notes"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.scenario.clone(),
                fmt(r.rate.map(round1), 0),
                fmt(r.p50_ms, 2),
                fmt(r.p99_ms, 2),
                r.errors.to_string(),
                r.notes.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: [&str; 6]| {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            if i == 5 {
                s.push_str(c);
            } else if i == 0 {
                s.push_str(&format!("{c:<w$}  "));
            } else {
                s.push_str(&format!("{c:>w$}  "));
            }
        }
        println!("{}", s.trim_end());
    };
    line(header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line([&rule[0], &rule[1], &rule[2], &rule[3], &rule[4], &rule[5]]);
    for row in &cells {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]);
    }
}
