#!/usr/bin/env bash
# Property-based API testing: schemathesis generates thousands of requests from
# openapi/openapi.json and checks every response against the spec.
#
#   scripts/schemathesis.sh [SERVER_BIN] [SECONDS]
#
# Starts its own server on a temp database, registers a user, and runs all operations
# with that user's token. Fails on any 5xx or any response that violates the spec.
# The WebSocket and SSE operations are left out: they are streams, which schemathesis
# cannot exercise; tests/api/streams/ covers them over real sockets.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/tasklane}
SECONDS_BUDGET=${2:-90}
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

if [ ! -x "${SCHEMATHESIS_VENV:-$HOME/.cache/tasklane-schemathesis}/bin/schemathesis" ]; then
    python3 -m venv "${SCHEMATHESIS_VENV:-$HOME/.cache/tasklane-schemathesis}"
    "${SCHEMATHESIS_VENV:-$HOME/.cache/tasklane-schemathesis}/bin/pip" install -q "schemathesis>=4,<5"
fi
ST="${SCHEMATHESIS_VENV:-$HOME/.cache/tasklane-schemathesis}/bin/schemathesis"

# Generous limits: schemathesis is one client making thousands of requests.
"$BIN" serve --bind "127.0.0.1:$PORT" --db "$WORK/st.db" --access-ttl 1h --log warn \
    --registrations-per-address 1000000 --login-failures 1000000 \
    --login-failures-per-address 1000000 > "$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done

curl -sf "$BASE/api/register/" -H 'content-type: application/json' \
    -d '{"username":"schemathesis","email":"st@example.com","password":"S3cure-Passw0rd!x"}' >/dev/null
TOKEN=$(curl -sf "$BASE/api/token/" -H 'content-type: application/json' \
    -d '{"username":"schemathesis","password":"S3cure-Passw0rd!x"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access"])')

cd "$WORK"
# ensure_resource_availability is left out: its stateful links register a second account
# through POST /api/users and then look it up with the test user's token, which is a 404
# by design (another account's id never answers; tests/api/accounts/profile.rs covers it). A
# per-operation exclusion in schemathesis.toml did not reach the stateful phase.
"$ST" run "$BASE/openapi.json" \
    --header "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,use_after_free,ignored_auth,unsupported_method,missing_required_header \
    --exclude-path /ws/tasks --exclude-path /api/events \
    --max-time "$SECONDS_BUDGET" --workers 2 --no-color
