//! Search (`?search=`) through its index (SQLite: FTS5 trigrams, migration 11;
//! PostgreSQL: pg_trgm GIN indexes, migration 10) gives exactly what the plain
//! substring scan gave: the reference here is that scan, run on the database directly.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// A small deterministic generator (xorshift64*): the cases are the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }

    /// Text of `min` to `max` symbols from an alphabet chosen to tell the folds apart: ASCII letters in both
    /// cases, non-ASCII letters whose case only Unicode folds (é/É, ß/ẞ), ones that fold
    /// to ASCII (the Kelvin sign, İ), the `LIKE` wildcards and escape, and a quote.
    fn text(&mut self, min: usize, max: usize) -> String {
        let len = min + self.below(max - min + 1);
        const ALPHABET: &[&str] = &[
            "a", "A", "b", "B", "k", "K", "i", "I", "x", " ", "é", "É", "ß", "ẞ", "\u{212a}", "İ",
            "%", "_", "\\", "\"", "ab", "AB", "kit",
        ];
        let text: String = (0..len)
            .map(|_| ALPHABET[self.below(ALPHABET.len())])
            .collect();
        // A blank title is refused: never send one.
        if len > 0 && text.trim().is_empty() {
            return format!("{text}x");
        }
        text
    }

    /// A title (at least five characters, not counting spaces at its ends).
    fn title(&mut self) -> String {
        format!("T{}t", self.text(4, 12))
    }

    /// A description (at least ten characters).
    fn description(&mut self) -> String {
        format!("D{}d", self.text(9, 16))
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The ids `?search=term` lists for `token`, in id order.
async fn searched(app: &TestApp, token: &str, term: &str) -> Vec<i64> {
    let r = app
        .list_tasks(
            token,
            &format!("?ordering=id&limit=100&search={}", encode(term)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{term:?}: {}", r.text);
    let page: Vec<Value> = serde_json::from_str(&r.text).unwrap();
    page.iter().filter_map(|t| t["id"].as_i64()).collect()
}

/// The plain scan the index replaced: SQLite's `LIKE`, PostgreSQL's `ILIKE` on
/// `COLLATE "C"` text, with `%`, `_` and `\` literal.
async fn reference(db: &TestDb, user: i64, term: &str) -> Vec<i64> {
    let mut pattern = String::from("%");
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    let sql = match db {
        TestDb::Sqlite(_) => {
            "SELECT id FROM tasks WHERE user_id = ?1 AND (title LIKE ?2 ESCAPE '\\' \
             OR IFNULL(description, '') LIKE ?2 ESCAPE '\\') ORDER BY id"
        }
        TestDb::Postgres(_) => {
            "SELECT id FROM tasks WHERE user_id = ?1 \
             AND (title ILIKE ?2::text COLLATE \"C\" ESCAPE E'\\\\' \
             OR coalesce(description, '') ILIKE ?2::text COLLATE \"C\" ESCAPE E'\\\\') \
             ORDER BY id"
        }
    };
    db.rows(sql, &[&user, &pattern])
        .await
        .into_iter()
        .map(|r| r[0].as_deref().unwrap().parse().unwrap())
        .collect()
}

/// Terms to try: pieces of the tasks' own text (so that many match), case-flipped,
/// and random ones; of every length from 1 (shorter than a trigram) to 8.
fn terms(rng: &mut Rng, texts: &[String]) -> Vec<String> {
    let mut out = vec![
        "%".to_owned(),
        "_".to_owned(),
        "\\".to_owned(),
        "a%b".to_owned(),
    ];
    for _ in 0..60 {
        let len = 1 + rng.below(8);
        if rng.below(3) == 0 {
            out.push(rng.text(len, len));
            continue;
        }
        let chars: Vec<char> = texts[rng.below(texts.len())].chars().collect();
        if chars.is_empty() {
            continue;
        }
        let start = rng.below(chars.len());
        let piece: String = chars[start..(start + len).min(chars.len())]
            .iter()
            .map(|c| match rng.below(3) {
                0 => c.to_ascii_uppercase(),
                1 => c.to_ascii_lowercase(),
                _ => *c,
            })
            .collect();
        out.push(piece);
    }
    out
}

async fn check(app: &TestApp, db: &TestDb, token: &str, user: i64, terms: &[String]) {
    for term in terms {
        let want = reference(db, user, term).await;
        assert_eq!(searched(app, token, term).await, want, "search {term:?}");
    }
}

#[tokio::test]
async fn search_finds_exactly_what_the_substring_scan_finds_after_writes() {
    let app = spawn_app_with(|a| a.list_cache_mb = 0).await;
    let (token, _) = app.user("alice1").await;
    let (other, _) = app.user("bob1").await;
    let db = db(&app).await;
    let user = db
        .int("SELECT id FROM users WHERE username = ?1", &[&"alice1"])
        .await;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut texts = Vec::new();
    let mut ids = Vec::new();
    for i in 0..60 {
        let title = rng.title();
        let mut body = json!({ "title": title });
        if i % 3 != 0 {
            let d = rng.description();
            body["description"] = json!(d);
            texts.push(d);
        }
        texts.push(title);
        // Bob holds the same texts: his tasks are candidates the list must drop.
        let r = app.create_task(&other, body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{body}: {}", r.text);
        let r = app.create_task(&token, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(r.json()["id"].as_i64().unwrap());
    }
    let terms = terms(&mut rng, &texts);
    check(&app, &db, &token, user, &terms).await;

    // Changes of title and description, a description emptied, deletes.
    for (n, id) in ids.iter().enumerate() {
        let path = format!("/api/tasks/{id}/");
        let body: Option<Value> = match n % 4 {
            0 => Some(json!({ "title": rng.title() })),
            1 => Some(json!({ "description": rng.description() })),
            2 => Some(json!({ "description": "", "completed": true })),
            _ => None,
        };
        let r = match body {
            Some(b) => app.call(Method::PATCH, &path, Some(&token), Some(b)).await,
            None => app.call(Method::DELETE, &path, Some(&token), None).await,
        };
        assert!(r.status.is_success(), "{}", r.text);
    }
    check(&app, &db, &token, user, &terms).await;

    // Many rows (anyone's) holding a term's trigrams: SQLite walks the list with
    // `LIKE` instead of sorting the candidates; the results stay the same.
    let bob = db
        .int("SELECT id FROM users WHERE username = ?1", &[&"bob1"])
        .await;
    for _ in 0..5 {
        db.execute(
            "INSERT INTO tasks (user_id, title, description, completed, created_at, \
             updated_at, version) SELECT user_id, title, description, completed, created_at, \
             updated_at, version FROM tasks WHERE user_id = ?1",
            &[&bob],
        )
        .await;
    }
    assert!(db.int("SELECT count(*) FROM tasks", &[]).await > 1000);
    check(&app, &db, &token, user, &terms).await;
    if let TestDb::Sqlite(c) = &db {
        // Those inserts, made outside the server's writer, wait in the index's queue
        // (and were found through it above); the server's next write replays them.
        let queued: i64 = c
            .query_row("SELECT count(*) FROM task_search_pending", [], |r| r.get(0))
            .unwrap();
        assert!(queued > 1000, "{queued} queued");
        let r = app
            .create_task(&token, json!({ "title": "one more" }))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let queued: i64 = c
            .query_row("SELECT count(*) FROM task_search_pending", [], |r| r.get(0))
            .unwrap();
        assert_eq!(queued, 0);
        c.execute_batch(
            "INSERT INTO task_search (task_search, rank) VALUES ('integrity-check', 1)",
        )
        .expect("the search index matches the tasks");
        check(&app, &db, &token, user, &terms).await;
    }
}

#[tokio::test]
async fn search_is_served_by_its_index() {
    let app = spawn_app().await;
    let db = db(&app).await;
    match &db {
        TestDb::Sqlite(c) => {
            // The list's search clauses (sqlite/task_list.rs) with few candidates, in
            // each shape of the list (visible tasks, personal ones, a project's): the
            // candidates (asked of the index for a count, or already read for a page)
            // drive, each read by its id, never a scan of the tasks.
            for candidates in [
                "SELECT rowid FROM task_search WHERE task_search MATCH '\"abc\"'",
                "SELECT value FROM json_each('[1,2,3]')",
            ] {
                let search = format!(
                    "id IN ({candidates} UNION ALL SELECT task_id FROM task_search_pending \
                 WHERE op = 'insert') AND (title LIKE '%abc%' ESCAPE '\\' \
                 OR IFNULL(description, '') LIKE '%abc%' ESCAPE '\\')"
                );
                for (visible, order) in [
                    (
                        "((user_id = 1 AND project_id IS NULL) OR project_id IN \
                     (SELECT project_id FROM project_members WHERE user_id = 1))",
                        "id + 0",
                    ),
                    ("user_id = 1 AND project_id IS NULL", "id DESC"),
                    (
                        "project_id = 2 AND EXISTS (SELECT 1 FROM project_members \
                     WHERE project_id = 2 AND user_id = 1)",
                        "updated_at DESC, id DESC",
                    ),
                ] {
                    let plan: Vec<String> = c
                        .prepare(&format!(
                            "EXPLAIN QUERY PLAN SELECT id FROM tasks WHERE {visible} AND {search} \
                         ORDER BY {order} LIMIT 50"
                        ))
                        .unwrap()
                        .query_map([], |r| r.get::<_, String>(3))
                        .unwrap()
                        .collect::<Result<_, _>>()
                        .unwrap();
                    let plan = plan.join("\n");
                    assert!(
                        plan.contains("SCAN task_search VIRTUAL TABLE")
                            || plan.contains("SCAN json_each VIRTUAL TABLE"),
                        "{plan}"
                    );
                    assert!(
                        plan.lines()
                            .any(|l| l.starts_with("SEARCH tasks") && l.contains("id=?")),
                        "{plan}"
                    );
                    assert!(!plan.contains("SCAN tasks"), "{plan}");
                }
            }
        }
        TestDb::Postgres(c) => {
            // The list's search clause (postgres/task_list.rs) alone; the table is
            // tiny, so the planner is told to prefer any index to a scan.
            c.batch_execute("SET enable_seqscan = off").await.unwrap();
            let rows = c
                .query(
                    "EXPLAIN SELECT id FROM tasks WHERE \
                     (lower(title) LIKE lower($1::text COLLATE \"C\") ESCAPE E'\\\\' \
                     OR lower(coalesce(description, '')) LIKE lower($1::text COLLATE \"C\") \
                     ESCAPE E'\\\\')",
                    &[&"%Abc%"],
                )
                .await
                .unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
            let plan = plan.join("\n");
            assert!(plan.contains("tasks_search_title"), "{plan}");
            assert!(plan.contains("tasks_search_description"), "{plan}");
        }
    }
}
