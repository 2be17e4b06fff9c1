# Convenience recipes; the README's commands work without `just`.

# List the recipes.
default:
    @just --list

# Run the server (release build) on 127.0.0.1:8000 with ./tasklane.db.
run *ARGS:
    cargo run --release -- {{ARGS}}

# Run every test.
test:
    cargo test

# Regenerate the committed OpenAPI document.
openapi:
    cargo run -- openapi --out openapi/openapi.json

# Regenerate docs/configuration.md from the command-line definition.
docs:
    cargo run -- docs config --out docs/configuration.md

# Check every nginx block of the docs with `nginx -t`.
nginx-check:
    scripts/nginx_check.sh

# Build the docs into a site in docs/book/ (needs `cargo install mdbook --locked`).
book:
    mdbook build docs

# Lint the OpenAPI document with Redocly (recommended) and Spectral (spectral:oas).
openapi-lint:
    scripts/openapi_lint.sh

# The Debian package, target/debian/tasklane_*.deb (needs cargo-deb); check it as root
# with scripts/deb_check.sh.
deb *ARGS:
    scripts/deb_build.sh {{ARGS}}

# Everything CI runs.
ci:
    bash .ci/run

# Property-based API test (schemathesis) against a fresh release server.
schemathesis: 
    cargo build --release
    scripts/schemathesis.sh target/release/tasklane 90

# Benchmark: release server on a temp database, load over loopback, table + JSON.
bench *ARGS:
    cargo build --release -p tasklane -p tasklane-bench
    ./target/release/tasklane-bench --json bench.json {{ARGS}}
