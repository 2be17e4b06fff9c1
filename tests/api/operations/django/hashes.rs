//! Accounts imported from the Django app with their password hashes as Django made them
//! (hashes made here, at test time, by real Django 4.2 in the venv of
//! `scripts/django-venv.sh`): a login verifies them through the real API, stores
//! argon2id instead, and ends no other session.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tasklane::store::{Store, Synchronous};

use crate::helpers::*;

const NO_ACTIVE_ACCOUNT: &str =
    r#"{"detail":"No active account found with the given credentials"}"#;

/// Makes one hash per `(hasher, password)` with real Django 4.2 configured with its
/// default `PASSWORD_HASHERS`, as `make_password` stores them (hasher `None`: an unusable
/// password, `make_password(None)`; `"weak_argon2id"`: a bare argon2id PHC string with
/// less memory and fewer passes than tasklane's, as argon2-cffi makes it). pbkdf2 with
/// 1,000 iterations for speed, unless a third element gives the count
/// (`["pbkdf2_sha256", password, 600000]`, Django 4.2's). None (skip) without the venv.
async fn django_hashes(requests: Value) -> Option<Vec<String>> {
    let python = django_python()?;
    const SCRIPT: &str = r#"
import json, sys
import django
from django.conf import settings
settings.configure(PASSWORD_HASHERS=[
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
])
django.setup()
from django.contrib.auth.hashers import check_password, get_hasher, make_password
out = []
for name, password, *iterations in json.load(sys.stdin):
    if name is None:
        out.append(make_password(None))
        continue
    if name == "weak_argon2id":
        import argon2
        weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
        out.append(weak.hash(password))
        continue
    hasher = get_hasher(name)
    if name.startswith("pbkdf2"):
        encoded = hasher.encode(password, hasher.salt(), iterations=(iterations or [1000])[0])
    else:
        encoded = make_password(password, hasher=name)
    assert encoded.startswith(name + "$") and check_password(password, encoded)
    out.append(encoded)
print(json.dumps(out))
"#;
    let input = serde_json::to_vec(&requests).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the Django venv's python");
        child.stdin.take().unwrap().write_all(&input).unwrap();
        child.wait_with_output().expect("python")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "Django failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).expect("a JSON list of hashes"))
}

/// Stores `hash` as `username`'s password hash, as the importer does.
async fn import_hash(app: &TestApp, username: &str, hash: &str) {
    let n = db(app)
        .await
        .execute(
            "UPDATE users SET password_hash = ?1 WHERE username = ?2",
            &[&hash, &username],
        )
        .await;
    assert_eq!(n, 1);
}

async fn stored_hash(app: &TestApp, username: &str) -> String {
    db(app)
        .await
        .text(
            "SELECT password_hash FROM users WHERE username = ?1",
            &[&username],
        )
        .await
}

async fn refused(app: &TestApp, username: &str, password: &str) {
    let r = app.login(username, password).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{username}: {}", r.text);
    assert_eq!(r.text, NO_ACTIVE_ACCOUNT, "{username}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_hashes_log_in_once_as_django_then_as_argon2id_and_other_sessions_survive() {
    const HASHERS: [&str; 6] = [
        "pbkdf2_sha256",
        "pbkdf2_sha1",
        "argon2",
        "bcrypt_sha256",
        "scrypt",
        // Not Django's: an argon2id hash weaker than ours is upgraded too.
        "weak_argon2id",
    ];
    let passwords: Vec<String> = HASHERS
        .iter()
        .map(|h| format!("Imported-pässwort-{h}-🔑"))
        .collect();
    let requests: Vec<Value> = HASHERS
        .iter()
        .zip(&passwords)
        .map(|(h, p)| json!([h, p]))
        .collect();
    let Some(hashes) = django_hashes(json!(requests)).await else {
        return;
    };
    assert!(hashes[5].starts_with("$argon2id$v=19$m=8192,t=1,p=1$"));
    let app = spawn_app().await;
    for ((hasher, password), hash) in HASHERS.iter().zip(&passwords).zip(&hashes) {
        let name = format!("dj_{hasher}");
        // A session from before the import: a refresh token, an access token and an
        // API token.
        let (access, refresh) = app.user(&name).await;
        let script = api_token(&app, &access, &["tasks:read"]).await;
        import_hash(&app, &name, hash).await;

        // A wrong password (the one before the import among them) changes nothing.
        refused(&app, &name, PASSWORD).await;
        refused(&app, &name, &password[..password.len() - 4]).await;
        assert_eq!(&stored_hash(&app, &name).await, hash, "{hasher}");

        let r = app.login(&name, password).await;
        assert_eq!(r.status, StatusCode::OK, "{hasher}: {}", r.text);
        let after = stored_hash(&app, &name).await;
        assert!(
            after.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hasher}: {after}"
        );
        assert!(!after.contains(password.as_str()));

        // Now an argon2id hash: the same password logs in, others don't, and it stays.
        let again = app.login(&name, password).await;
        assert_eq!(again.status, StatusCode::OK, "{hasher}: {}", again.text);
        refused(&app, &name, PASSWORD).await;
        assert_eq!(stored_hash(&app, &name).await, after, "{hasher}");

        // The session from before survives the rehash: its refresh token rotates, its
        // access and API tokens still work, and so do the new login's.
        let r = app.refresh(&refresh).await;
        assert_eq!(r.status, StatusCode::OK, "{hasher}: {}", r.text);
        let r = app.get("/api/users/me/", &access).await;
        assert_eq!(r.status, StatusCode::OK, "{hasher}: {}", r.text);
        let r = app.get("/api/tasks/", &script).await;
        assert_eq!(r.status, StatusCode::OK, "{hasher}: {}", r.text);
        let fresh = again.json();
        let r = app.refresh(fresh["refresh"].as_str().unwrap()).await;
        assert_eq!(r.status, StatusCode::OK, "{hasher}: {}", r.text);
    }
}

#[tokio::test]
async fn unusable_passwords_and_inactive_accounts_are_refused_like_wrong_passwords() {
    let password = "Imported-Passw0rd-inactive";
    let Some(hashes) = django_hashes(json!([[null, null], ["pbkdf2_sha256", password]])).await
    else {
        return;
    };
    let (unusable, usable) = (&hashes[0], &hashes[1]);
    assert!(unusable.starts_with('!'), "{unusable}");
    let app = spawn_app().await;

    app.user("dj_unusable").await;
    import_hash(&app, "dj_unusable", unusable).await;
    for guess in [PASSWORD, unusable.as_str(), &unusable[1..], "!"] {
        refused(&app, "dj_unusable", guess).await;
    }
    assert_eq!(&stored_hash(&app, "dj_unusable").await, unusable);

    app.user("dj_inactive").await;
    import_hash(&app, "dj_inactive", usable).await;
    db(&app)
        .await
        .execute(
            "UPDATE users SET is_active = FALSE WHERE username = 'dj_inactive'",
            &[],
        )
        .await;
    refused(&app, "dj_inactive", password).await;
    refused(&app, "dj_inactive", PASSWORD).await;
    // Not rehashed either: an inactive account's login does nothing.
    assert_eq!(&stored_hash(&app, "dj_inactive").await, usable);

    // And the same answer as for nobody at all.
    refused(&app, "dj_nobody", password).await;
}

/// A second handle on the test server's database, as another host would have.
async fn another_store(app: &TestApp) -> Store {
    match &app.args.database_url {
        Some(url) => Store::connect_postgres(url.expose(), 2).await.unwrap(),
        None => Store::open_sqlite(&app.db_path(), 2, Synchronous::Full).unwrap(),
    }
}

#[tokio::test]
async fn the_rehash_replaces_only_the_hash_it_verified_and_ends_no_credential() {
    let app = spawn_app().await;
    let (access, refresh) = app.user("dj_cas").await;
    let store = another_store(&app).await;
    let id = db(&app)
        .await
        .int("SELECT id FROM users WHERE username = 'dj_cas'", &[])
        .await;
    let before = stored_hash(&app, "dj_cas").await;
    let cut_off = "SELECT credentials_generation FROM users WHERE username = 'dj_cas'";
    let generation = db(&app).await.int(cut_off, &[]).await;

    // A password set meanwhile (the stored hash is no longer the one verified) wins.
    let replaced = store
        .upgrade_password_hash(id, "pbkdf2_sha256$1000$x$y".into(), "$argon2id$new".into())
        .await
        .unwrap();
    assert!(!replaced);
    assert_eq!(stored_hash(&app, "dj_cas").await, before);
    // No such account: nothing.
    assert!(
        !store
            .upgrade_password_hash(id + 1000, before.clone(), "$argon2id$new".into())
            .await
            .unwrap()
    );

    // The hash verified is still there: replaced, and every credential lives on.
    let new = tasklane::auth::password::hash_password(PASSWORD.to_owned())
        .await
        .unwrap();
    assert!(
        store
            .upgrade_password_hash(id, before.clone(), new.clone())
            .await
            .unwrap()
    );
    assert_eq!(stored_hash(&app, "dj_cas").await, new);
    assert_eq!(db(&app).await.int(cut_off, &[]).await, generation);
    let r = app.get("/api/users/me/", &access).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.refresh(&refresh).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.login("dj_cas", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Once replaced, the old hash no longer matches: a second upgrade from it is refused.
    assert!(
        !store
            .upgrade_password_hash(id, before, "$argon2id$other".into())
            .await
            .unwrap()
    );
}

/// `POST /api/token/` from `address` (the server trusts `X-Forwarded-For`), and how long
/// the answer took.
async fn login_from(
    app: &TestApp,
    username: &str,
    password: &str,
    address: &str,
) -> (StatusCode, Duration) {
    let started = Instant::now();
    let r = app
        .client
        .post(app.url("/api/token/"))
        .header("x-forwarded-for", address)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("request");
    let status = r.status();
    let _ = r.bytes().await;
    (status, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_at_imported_accounts_waits_in_its_own_lane_not_in_native_logins_way() {
    // Four accounts still holding Django's hash (pbkdf2 at the 1,000,000 iterations the
    // caps allow), four wrong passwords at each at once: more than the legacy lane holds.
    let imported: Vec<String> = (0..4).map(|i| format!("dj_burst{i}")).collect();
    let requests: Vec<Value> = imported
        .iter()
        .map(|_| json!(["pbkdf2_sha256", PASSWORD, 1_000_000]))
        .collect();
    let Some(hashes) = django_hashes(json!(requests)).await else {
        return;
    };
    let app = Arc::new(spawn_app_with(|a| a.trust_x_forwarded_for = true).await);
    for (name, hash) in imported.iter().zip(&hashes) {
        app.user(name).await;
        import_hash(&app, name, hash).await;
    }
    app.user("bob1").await;
    // Each guess from its own address: no throttle stands in the way.
    let burst: Vec<_> = (0..16)
        .map(|i| {
            let (app, name) = (app.clone(), imported[i % 4].clone());
            tokio::spawn(async move {
                let address = format!("198.51.100.{}", 100 + i);
                let answer = login_from(&app, &name, "wrong-password", &address).await;
                (answer, Instant::now())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let (bob, bob_took) = login_from(&app, "bob1", PASSWORD, "198.51.100.20").await;
    let bob_done = Instant::now();
    let mut answers = Vec::new();
    for b in burst {
        answers.push(b.await.expect("burst task"));
    }

    // Bob logs in at once, while the lane is still checking the burst: he did not wait
    // behind it (today he waits behind every one of its checks).
    let after_bob = answers.iter().filter(|(_, at)| *at > bob_done).count();
    let last = answers.iter().map(|(_, at)| *at).max().unwrap();
    eprintln!(
        "bob took {bob_took:?}; {after_bob} of the burst answered after him, the last {:?} \
         after him",
        last.saturating_duration_since(bob_done)
    );
    assert_eq!(bob, StatusCode::OK);
    assert!(after_bob >= 1, "bob waited for the whole burst");
    // The burst is refused like any wrong password: checked, or (the lane full) not
    // checked but answered alike, never a 503 that would tell these accounts apart.
    for ((status, _), _) in &answers {
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
    }
    // The accounts' owners still get in once the burst is over.
    let (status, _) = login_from(&app, &imported[0], PASSWORD, "198.51.100.21").await;
    assert_eq!(status, StatusCode::OK);
}

/// The middle of `times`.
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_take_as_long_for_unknown_native_and_imported_accounts() {
    // Django 4.2's own hash of the day: pbkdf2_sha256 at 600,000 iterations, three to
    // four times our argon2id.
    let Some(hashes) = django_hashes(json!([["pbkdf2_sha256", PASSWORD, 600_000]])).await else {
        return;
    };
    let app = spawn_app_with(|a| {
        a.failed_login_floor = tasklane::config::FailedLoginFloor::Auto;
        a.trust_x_forwarded_for = true;
        a.login_failures = 1_000;
    })
    .await;
    app.user("native1").await;
    app.user("dj_600k").await;
    import_hash(&app, "dj_600k", &hashes[0]).await;

    // Rounds of one wrong password for each at once (they don't wait for each other:
    // the imported one is checked in its own lane), the first round a warm-up.
    let accounts = ["nobody1", "native1", "dj_600k"];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); 3];
    for round in 0..8 {
        let answers =
            futures_util::future::join_all(accounts.iter().enumerate().map(|(i, name)| {
                let address = format!("203.0.113.{}", 10 * round + i);
                let app = &app;
                async move { login_from(app, name, "wrong-password", &address).await }
            }))
            .await;
        for (i, (status, took)) in answers.into_iter().enumerate() {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", accounts[i]);
            if round > 0 {
                times[i].push(took);
            }
        }
    }
    let medians: Vec<Duration> = times.into_iter().map(median).collect();
    eprintln!(
        "median failed login: unknown {:?}, native {:?}, imported {:?}",
        medians[0], medians[1], medians[2]
    );
    // Today: the imported account's failures take about three times the others'.
    let (lo, hi) = (
        *medians.iter().min().unwrap(),
        *medians.iter().max().unwrap(),
    );
    assert!(
        hi.as_secs_f64() <= lo.as_secs_f64() * 1.15,
        "medians {medians:?} differ by more than 15%"
    );
    // And a right password is not held to the floor.
    let (status, took) = login_from(&app, "native1", PASSWORD, "203.0.113.200").await;
    assert_eq!(status, StatusCode::OK);
    assert!(took < lo, "a success took {took:?}, failures {lo:?}");
}
