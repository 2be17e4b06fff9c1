#!/usr/bin/env bash
# Runs `nginx -t` on every ```nginx block of the docs (README.md, ARCHITECTURE.md,
# docs/**/*.md), as a reader would paste it: a block of http-level directives (map,
# upstream, server) goes inside a minimal `events {} http { … }`; a block that has its
# own `http {` is tested as it is, with only `events {}` added when it lacks one.
#
# Usage: scripts/nginx_check.sh [NGINX]   (default: nginx on PATH, else /usr/sbin/nginx)
set -euo pipefail
cd "$(dirname "$0")/.."

nginx=${1:-$(command -v nginx || echo /usr/sbin/nginx)}
if [ ! -x "$nginx" ]; then
    echo "nginx_check: no nginx at $nginx (Debian: apt-get install nginx)" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pages=(README.md)
[ -f ARCHITECTURE.md ] && pages+=(ARCHITECTURE.md)
while IFS= read -r page; do pages+=("$page"); done < <(find docs -name '*.md' -not -path 'docs/book/*' | sort)

# Each block to its own file (BLOCK.conf), and where it is (BLOCK.where: page:line).
i=0
for page in "${pages[@]}"; do
    i=$((i + 1))
    awk -v page="$page" -v out="$work/p$i" '
        /^[[:space:]]*```nginx[[:space:]]*$/ {
            inblock = 1; file = sprintf("%s-b%03d", out, ++n)
            print page ":" NR + 1 > (file ".where"); close(file ".where"); next }
        inblock && /^[[:space:]]*```[[:space:]]*$/ { inblock = 0; close(file ".conf"); next }
        inblock { print > (file ".conf") }
    ' "$page"
done

blocks=("$work"/*.conf)
if [ ! -e "${blocks[0]}" ]; then
    echo "nginx_check: no nginx blocks found in ${pages[*]}" >&2
    exit 1
fi

# Testing a configuration binds its listen ports: without root, a port below 1024 is
# tested as that port + 10000, which changes nothing else about the block.
unprivileged() {
    if [ "$(id -u)" = 0 ]; then
        cat
    else
        perl -pe 's/^(\s*listen\s+(?:[^\s;]*:)?)(\d+)\b/$1 . ($2 < 1024 ? $2 + 10000 : $2)/e'
    fi
}

failed=0
checked=0
for block in "${blocks[@]}"; do
    where=$(cat "${block%.conf}.where")
    prefix="$work/prefix-$checked"
    mkdir -p "$prefix/logs"
    conf="$prefix/nginx.conf"
    {
        echo "pid $prefix/nginx.pid;"
        echo "error_log $prefix/logs/error.log;"
        if grep -Eq '^[[:space:]]*http[[:space:]]*\{' "$block"; then
            grep -Eq '^[[:space:]]*events[[:space:]]*\{' "$block" || echo "events {}"
            unprivileged < "$block"
        else
            echo "events {}"
            echo "http {"
            for t in client_body proxy fastcgi uwsgi scgi; do
                echo "    ${t}_temp_path $prefix/$t;"
            done
            echo "    access_log off;"
            unprivileged < "$block"
            echo "}"
        fi
    } > "$conf"
    checked=$((checked + 1))
    if out=$("$nginx" -t -q -p "$prefix" -e "$prefix/logs/error.log" -c "$conf" 2>&1); then
        echo "ok      $where"
    else
        failed=$((failed + 1))
        echo "FAILED  $where"
        echo "$out" | sed 's/^/        /'
        echo "        the configuration tested:"
        sed 's/^/        | /' "$conf"
    fi
done

echo "nginx_check: $checked nginx blocks checked, $failed failed"
[ "$failed" -eq 0 ]
