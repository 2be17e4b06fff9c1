#!/usr/bin/env bash
# Smoke test of the OpenAPI document from a client's side: generate a Python client from
# openapi/openapi.json with openapi-python-client, install it in a throw-away virtualenv,
# and run scripts/client_smoke.py with it against a running server.
#
#   scripts/client_smoke.sh http://127.0.0.1:8000
#
# Needs python3 (with venv) and access to PyPI. Everything goes in a temporary folder
# that is removed on exit (KEEP_TMP=1 keeps it, to read the generated client).
#
#   GENERATOR_VERSION  openapi-python-client version to install (default: latest)
#   SPEC               OpenAPI document to generate from (default: openapi/openapi.json)
#   LENIENT=1          do not fail when the generator warns about the document
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 BASE_URL   (e.g. http://127.0.0.1:8000)" >&2
    exit 2
fi
BASE_URL=$1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SPEC=${SPEC:-$ROOT/openapi/openapi.json}
GENERATOR="openapi-python-client${GENERATOR_VERSION:+==$GENERATOR_VERSION}"

[[ -f $SPEC ]] || { echo "client_smoke: no OpenAPI document at $SPEC" >&2; exit 2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tasklane-client-smoke.XXXXXX")
cleanup() {
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        echo "client_smoke: kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'echo "client_smoke: FAILED (scripts/client_smoke.sh line $LINENO)" >&2' ERR

step() { echo "==> $*" >&2; }

step "checking $BASE_URL/healthz"
python3 - "$BASE_URL" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1].rstrip("/") + "/healthz", timeout=10) as r:
        if r.status != 200:
            sys.exit(f"client_smoke: {sys.argv[1]}/healthz answered {r.status}")
except Exception as e:
    sys.exit(f"client_smoke: no server at {sys.argv[1]}: {e}")
EOF

step "creating a virtualenv in $TMP/venv"
python3 -m venv "$TMP/venv"
PY=$TMP/venv/bin/python
"$PY" -m pip install -q --disable-pip-version-check "$GENERATOR"
"$TMP/venv/bin/openapi-python-client" --version >&2

# No post hooks (they would need ruff); warnings about the document are failures.
printf 'post_hooks: []\n' >"$TMP/config.yaml"
strict=(--fail-on-warning)
[[ ${LENIENT:-0} == 1 ]] && strict=()

step "generating the client from $SPEC"
if ! "$TMP/venv/bin/openapi-python-client" generate \
    --path "$SPEC" \
    --output-path "$TMP/client" \
    --meta setup \
    --config "$TMP/config.yaml" \
    "${strict[@]}" >"$TMP/generate.log" 2>&1; then
    cat "$TMP/generate.log" >&2
    echo "client_smoke: the generator refused the document (LENIENT=1 to go on)" >&2
    exit 1
fi
cat "$TMP/generate.log" >&2

step "installing the generated client"
"$PY" -m pip install -q --disable-pip-version-check "$TMP/client"

step "running scripts/client_smoke.py against $BASE_URL"
"$PY" "$ROOT/scripts/client_smoke.py" "$BASE_URL"
