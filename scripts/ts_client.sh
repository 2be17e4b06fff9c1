#!/usr/bin/env bash
# The OpenAPI document from a TypeScript client's side: generate types from
# openapi/openapi.json with openapi-typescript, then type-check scripts/ts-client/check.ts
# (a login, a task create and a list call, and the shared-project routes: projects,
# members, invitations, accept, and a task's project, assignee and due date, written
# against them) with `tsc --strict`.
# No server and no network beyond the npm install.
#
#   scripts/ts_client.sh
#
# Needs node and npm. The pinned packages (scripts/ts-client/package-lock.json) are
# installed in target/ts-client, once per lock file; nothing is written under scripts/.
#
#   SPEC   OpenAPI document to generate from (default: openapi/openapi.json)
#   WORK   where to install and generate (default: target/ts-client)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$ROOT/scripts/ts-client
SPEC=${SPEC:-$ROOT/openapi/openapi.json}
WORK=${WORK:-$ROOT/target/ts-client}

trap 'echo "ts_client: FAILED (scripts/ts_client.sh line $LINENO)" >&2' ERR
step() { echo "==> $*" >&2; }

[[ -f $SPEC ]] || { echo "ts_client: no OpenAPI document at $SPEC" >&2; exit 2; }
command -v npm >/dev/null || { echo "ts_client: needs node and npm" >&2; exit 2; }

mkdir -p "$WORK"
if ! cmp -s "$SRC/package-lock.json" "$WORK/package-lock.json" || [[ ! -d $WORK/node_modules ]]; then
    step "installing openapi-typescript and typescript (pinned) in $WORK"
    cp "$SRC/package.json" "$SRC/package-lock.json" "$WORK/"
    (cd "$WORK" && npm ci --no-audit --no-fund --loglevel=error)
fi
BIN=$WORK/node_modules/.bin

step "generating TypeScript types from $SPEC"
rm -f "$WORK/schema.ts" "$WORK/check.ts"
"$BIN/openapi-typescript" "$SPEC" --output "$WORK/schema.ts" >&2
cp "$SRC/check.ts" "$WORK/check.ts"

step "type-checking scripts/ts-client/check.ts with tsc --strict"
"$BIN/tsc" --strict --noEmit --noUncheckedIndexedAccess --exactOptionalPropertyTypes \
    --target es2022 --module es2022 --moduleResolution bundler --lib es2022,dom \
    "$WORK/check.ts" "$WORK/schema.ts"
step "the TypeScript client type-checks"
