//! The configuration reference (`docs/configuration.md`), generated from the command-line
//! definition: fresh, and showing no value from the environment.

/// The committed `docs/configuration.md` must be what the command-line definition
/// renders. On a mismatch the file is rewritten and the test fails, as for openapi.json.
#[test]
fn the_committed_configuration_reference_is_fresh() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md");
    let generated = tasklane::config::reference::markdown();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        std::fs::write(&path, &generated).expect("write configuration.md");
        panic!(
            "docs/configuration.md was stale and has been regenerated; \
             run `{}` (or `just docs`) and commit it",
            tasklane::config::reference::REGENERATE
        );
    }
}

/// `tasklane docs config` prints the page whatever the environment holds: secrets set in
/// `TASKLANE_*` variables never reach it, and neither do other values given there.
#[tokio::test]
async fn the_configuration_reference_shows_no_value_from_the_environment() {
    let secrets = [
        (
            "TASKLANE_JWT_SECRET",
            "jwt-secret-that-must-not-leak-0123456789",
        ),
        (
            "TASKLANE_DATABASE_URL",
            "postgres://u:db-password-must-not-leak@h/db",
        ),
        (
            "TASKLANE_REDIS_URL",
            "redis://:redis-password-must-not-leak@h:6379",
        ),
        ("TASKLANE_BIND", "127.0.0.9:9999"),
    ];
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tasklane"))
        .args(["docs", "config"])
        .envs(secrets)
        .output()
        .await
        .expect("run tasklane docs config");
    assert!(out.status.success(), "{out:?}");
    let page = String::from_utf8(out.stdout).expect("UTF-8");
    for (name, value) in secrets {
        assert!(!page.contains(value), "{name}'s value is on the page");
    }
    assert!(!page.contains("must-not-leak"), "a secret is on the page");
    assert_eq!(page, tasklane::config::reference::markdown());
}
