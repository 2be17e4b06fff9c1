//! What `tasklane import-django` will not carry over as it is: hashes past Django's own
//! costs (imported as unusable passwords to reset) and fields longer than the API accepts
//! (the import stops, listing them by row).

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

use super::{SECRET_KEY, import, login, original, serve, target};

/// `tasklane user …` on the imported database.
async fn user_command(flags: &[String], args: &[&str], stdin: Option<&str>) -> Run {
    let mut all = vec!["user"];
    all.extend_from_slice(args);
    all.extend(flags.iter().map(String::as_str));
    tasklane(&all, stdin).await
}

#[tokio::test]
async fn hashes_past_djangos_own_costs_import_as_unusable_passwords_to_reset() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let user = |name: &str, hasher: &str, attrs: Value| {
        json!({"username": name, "email": format!("{name}@example.com"),
               "password": PASSWORD, "hasher": hasher, "hasher_attrs": attrs})
    };
    // Rows as a Django with costlier hasher settings stores them. The cost-17 bcrypt row
    // is a cost-4 one relabelled (making it takes seconds; the import never verifies).
    let mut bcrypt17 = user("dj_bcrypt17", "bcrypt_sha256", json!({"rounds": 4}));
    bcrypt17["edit_hash"] = json!(["$04$", "$17$"]);
    let spec = json!({
        "database": db.to_str().unwrap(),
        "secret_key": SECRET_KEY,
        "users": [
            // Django 4.2's defaults: pbkdf2_sha256 at 600,000, bcrypt at 12. Kept.
            {"username": "alice", "email": "alice@example.com", "password": PASSWORD},
            user("dj_bcrypt12", "bcrypt_sha256", json!({})),
            // Past them.
            user("dj_pbkdf2", "pbkdf2_sha256", json!({"iterations": 1_000_001})),
            bcrypt17,
            user("dj_argon2", "argon2", json!({"memory_cost": 131_072})),
            user("dj_scrypt", "scrypt", json!({"parallelism": 2})),
        ],
    });
    let Some(_) = original(spec) else { return };
    let (flags, pg) = target(dir.path());
    let from = db.to_str().unwrap();

    let run = import(from, &flags, &[]).await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(
        run.stdout
            .contains("6 accounts (0 inactive, 4 without a usable password")
            && run.stdout.contains("4 warnings"),
        "{run:#?}"
    );
    for (id, name, hasher) in [
        (3, "dj_pbkdf2", "pbkdf2_sha256 1000001 iterations"),
        (4, "dj_bcrypt17", "bcrypt_sha256 cost 17"),
        (5, "dj_argon2", "argon2 m=131072 KiB"),
        (6, "dj_scrypt", "scrypt N=16384, r=8, p=2"),
    ] {
        let warning =
            format!("warning: account {id} (\"{name}\"): its password hash asks for more work");
        let line = run
            .stderr
            .lines()
            .find(|l| l.starts_with(&warning))
            .unwrap_or_else(|| panic!("no warning for {name}: {run:#?}"));
        assert!(line.contains(hasher), "{line}");
        assert!(
            line.contains("it needs a password reset")
                && line.contains(&format!("tasklane user set-password --username {name}")),
            "{line}"
        );
    }

    let p = serve(&flags, pg);
    let c = reqwest::Client::new();
    for name in ["alice", "dj_bcrypt12"] {
        let (status, body) = login(&c, &p, name, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
    }
    // Never verified: even the right password is refused, like a wrong one.
    for name in ["dj_pbkdf2", "dj_bcrypt17", "dj_argon2", "dj_scrypt"] {
        let (status, body) = login(&c, &p, name, PASSWORD).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
    }
    // The reset the warning names works while the server runs.
    let new_password = "Fresh-Start-Passw0rd";
    user_command(
        &flags,
        &[
            "set-password",
            "--username",
            "dj_bcrypt17",
            "--password-stdin",
        ],
        Some(&format!("{new_password}\n")),
    )
    .await
    .ok();
    let (status, body) = login(&c, &p, "dj_bcrypt17", new_password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn fields_longer_than_the_api_accepts_stop_the_import_listed_by_row() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    // SQLite keeps whatever length Django's ORM hands it.
    let spec = json!({
        "database": db.to_str().unwrap(),
        "secret_key": SECRET_KEY,
        "users": [
            {"username": "alice", "email": "alice@example.com", "password": PASSWORD,
             "tasks": [
                {"title": "x".repeat(3 << 20)},
                {"title": "Fine title", "description": "d".repeat(5 << 20)},
                {"title": "abc"},
                // At the limits: fine.
                {"title": "t".repeat(255), "description": "d".repeat(10_000)},
             ]},
            {"username": "u".repeat(151), "email": "long-name@example.com", "password": PASSWORD},
            {"username": "carol", "email": format!("{}@example.com", "e".repeat(245)),
             "password": PASSWORD},
        ],
    });
    let Some(_) = original(spec) else { return };
    let (flags, _pg) = target(dir.path());
    for extra in [&["--dry-run"][..], &[]] {
        let run = import(db.to_str().unwrap(), &flags, extra).await;
        assert_eq!(run.code, Some(1), "{extra:?}: {}", run.stderr);
        for line in [
            "4 fields in",
            "nothing was written",
            "  auth_user 2: username of 151 characters (at most 150)",
            "  auth_user 3: email of 257 characters (at most 254)",
            "  tasks_task 1: title of 3145728 characters (at most 255)",
            "  tasks_task 2: description of 5242880 characters (at most 10000)",
        ] {
            assert!(run.stderr.contains(line), "{line:?} in {}", run.stderr);
        }
        assert!(!run.stderr.contains("tasks_task 4"), "{}", run.stderr);
        // The softer rules still only warn.
        assert!(
            run.stderr
                .contains("warning: task 3: a title of 3 characters"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.len() < 20_000, "the fields were printed");
    }
    if let Some(path) = flags.get(1).filter(|_| flags[0] == "--db") {
        assert!(
            !PathBuf::from(path).exists(),
            "a refused import made the database"
        );
    } else {
        let listed = user_command(&flags, &["list", "--json"], None).await;
        let listed: Value = serde_json::from_str(listed.ok().stdout.trim()).unwrap();
        assert_eq!(listed, json!([]), "a refused import wrote accounts");
    }
}
