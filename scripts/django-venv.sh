#!/usr/bin/env bash
# The original's stack from PyPI, for the tests that need real Django (its password
# hashes, its JWTs, its database): a venv at ${TASKLANE_DJANGO_VENV:-target/django-venv}
# with the original's pins. Idempotent: a venv that already has them is left alone.
# The tests find its python there, or at $TASKLANE_DJANGO_PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${TASKLANE_DJANGO_VENV:-target/django-venv}
pins=(
    "Django==4.2.13"
    "djangorestframework==3.15.1"
    "djangorestframework-simplejwt==5.3.1"
    # Django's optional hashers and a PostgreSQL driver for a PostgreSQL-hosted original.
    "bcrypt==4.2.1"
    "argon2-cffi==23.1.0"
    "psycopg2-binary==2.9.10"
)
stamp="$venv/.tasklane-pins"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${pins[*]}" ]; then
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
echo "${pins[*]}" > "$stamp"
echo "django venv ready at $venv"
