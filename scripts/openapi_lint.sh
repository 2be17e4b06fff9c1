#!/usr/bin/env bash
# The OpenAPI document against the ecosystem's linters: Redocly CLI's `recommended`
# ruleset (redocly.yaml) and Spectral's `spectral:oas` (.spectral.yaml). Zero errors and
# zero warnings, except the entries of .redocly.lint-ignore.yaml and .spectral.yaml's
# overrides, each of which says why. No server and no network beyond the npm install.
#
#   scripts/openapi_lint.sh
#
# Needs node (20.19+) and npm. The pinned packages (scripts/openapi-lint/package-lock.json)
# are installed in target/openapi-lint, once per lock file; nothing is written under
# scripts/. The same checks by hand, from the repository's root:
#   npx @redocly/cli lint openapi/openapi.json
#   npx @stoplight/spectral-cli lint -F warn openapi/openapi.json
#
#   SPEC   OpenAPI document to lint (default: openapi/openapi.json)
#   WORK   where to install (default: target/openapi-lint)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$ROOT/scripts/openapi-lint
SPEC=${SPEC:-openapi/openapi.json}
WORK=${WORK:-$ROOT/target/openapi-lint}
# Redocly CLI: no usage telemetry, no update check.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

trap 'echo "openapi_lint: FAILED (scripts/openapi_lint.sh line $LINENO)" >&2' ERR
step() { echo "==> $*" >&2; }

# The configurations name the document by its path from the root, so run from there.
cd "$ROOT"
[[ -f $SPEC ]] || { echo "openapi_lint: no OpenAPI document at $SPEC" >&2; exit 2; }
command -v npm >/dev/null || { echo "openapi_lint: needs node and npm" >&2; exit 2; }

mkdir -p "$WORK"
if ! cmp -s "$SRC/package-lock.json" "$WORK/package-lock.json" || [[ ! -d $WORK/node_modules ]]; then
    step "installing @redocly/cli and @stoplight/spectral-cli (pinned) in $WORK"
    cp "$SRC/package.json" "$SRC/package-lock.json" "$WORK/"
    (cd "$WORK" && npm ci --no-audit --no-fund --loglevel=error)
fi
BIN=$WORK/node_modules/.bin

step "redocly lint $SPEC (redocly.yaml: recommended; ignores: .redocly.lint-ignore.yaml)"
# `redocly lint` fails on errors only; its JSON totals count the warnings too. On any,
# a second run shows them (and whatever the quiet first run said on stderr).
totals=$("$BIN/redocly" lint --config redocly.yaml --format json "$SPEC" 2>/dev/null |
    node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
        const t = JSON.parse(s).totals; console.log(t.errors, t.warnings, t.ignored); })') || true
read -r errors warnings ignored <<<"${totals:-x x x}"
if [[ $errors != 0 || $warnings != 0 ]]; then
    "$BIN/redocly" lint --config redocly.yaml --format stylish "$SPEC" || true
    echo "openapi_lint: redocly: ${errors} errors, ${warnings} warnings (want none)" >&2
    exit 1
fi
step "redocly: no errors, no warnings ($ignored ignored, each with its reason)"

step "spectral lint $SPEC (.spectral.yaml: spectral:oas and its overrides)"
"$BIN/spectral" lint --ruleset .spectral.yaml --fail-severity warn "$SPEC"
step "spectral: no errors, no warnings"
