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
    /// `sqlite` or `postgres` when the table compares the two (`--backend both`).
    pub backend: Option<&'static str>,
    /// On a PostgreSQL row of a comparison: its rate over the SQLite row's.
    pub ratio: Option<f64>,
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
            backend: None,
            ratio: None,
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

/// The SQLite and PostgreSQL rows of one table, each PostgreSQL row right after the
/// SQLite row of the same scenario and mode, with their throughput ratio.
pub fn compare(sqlite: Vec<Row>, postgres: Vec<Row>) -> Vec<Row> {
    let mut postgres: Vec<Option<Row>> = postgres.into_iter().map(Some).collect();
    let mut out = Vec::new();
    for mut s in sqlite {
        s.backend = Some("sqlite");
        let twin = postgres.iter_mut().find(|p| {
            p.as_ref()
                .is_some_and(|p| p.scenario == s.scenario && p.mode == s.mode)
        });
        let twin = twin.and_then(Option::take);
        let rate = s.rate;
        out.push(s);
        if let Some(mut p) = twin {
            p.backend = Some("postgres");
            p.ratio = ratio(p.rate, rate);
            out.push(p);
        }
    }
    for mut p in postgres.into_iter().flatten() {
        p.backend = Some("postgres");
        out.push(p);
    }
    out
}

/// `a / b`, when both are known and `b` is not zero.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

pub fn print_table(rows: &[Row]) {
    let fmt =
        |v: Option<f64>, prec: usize| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.prec$}"));
    // The backend and ratio columns only in a comparison.
    let compared = rows.iter().any(|r| r.backend.is_some());
    let mut header: Vec<String> = ["scenario", "mode"].map(str::to_owned).to_vec();
    if compared {
        header.push("backend".into());
    }
    header.push("req/s".into());
    if compared {
        header.push("pg/sqlite".into());
    }
    header.extend(
        [
            "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "late", "notes",
        ]
        .map(str::to_owned),
    );
    // Columns left-aligned: the first two, the backend and the notes.
    let left = if compared { 3 } else { 2 };
    let mut cells = vec![header];
    cells.extend(rows.iter().map(|r| {
        let mut row = vec![
            r.scenario.clone(),
            if r.mode.is_empty() { "-" } else { r.mode }.to_owned(),
        ];
        if compared {
            row.push(r.backend.unwrap_or("-").to_owned());
        }
        row.push(fmt(r.rate.map(round1), 0));
        if compared {
            row.push(r.ratio.map_or_else(String::new, |x| format!("{x:.2}×")));
        }
        row.extend([
            fmt(r.p50_ms, 2),
            fmt(r.p90_ms, 2),
            fmt(r.p99_ms, 2),
            fmt(r.p999_ms, 2),
            fmt(r.max_ms, 2),
            r.errors.to_string(),
            r.late.map_or_else(|| "-".to_owned(), |n| n.to_string()),
            r.notes.clone(),
        ]);
        row
    }));
    let last = cells[0].len() - 1;
    let mut widths = vec![0; cells[0].len()];
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let rule = widths.iter().map(|&w| "-".repeat(w)).collect();
    cells.insert(1, rule);
    for row in &cells {
        let mut s = String::new();
        for (i, (c, &w)) in row.iter().zip(&widths).enumerate() {
            // Pad by characters (`×` is two bytes).
            let pad = " ".repeat(w - c.chars().count());
            if i == last {
                s.push_str(c);
            } else if i < left {
                s.push_str(&format!("{c}{pad}  "));
            } else {
                s.push_str(&format!("{pad}{c}  "));
            }
        }
        println!("{}", s.trim_end());
    }
}
