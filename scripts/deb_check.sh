#!/usr/bin/env bash
# CI's check of the Debian package, on this machine, as root (CI is), without systemd
# running (as in CI and containers):
#
#   1. build it (scripts/deb_build.sh) twice: version V, and V+ci2 to upgrade to;
#   2. lintian: no error, warning or info tag (each override, in
#      deploy/debian/lintian-overrides shipped in the package, says why);
#   2b. the maintainer scripts parse and hold the systemd snippets they promise;
#   3. dpkg -i: files, owners and modes; the conffile; the tasklane user and group;
#      /var/lib/tasklane tasklane:tasklane 0700;
#   4. start the installed binary the way the installed unit says (User, Group,
#      WorkingDirectory, UMask, EnvironmentFile, ExecStart, parsed out of it) with a test
#      port added to /etc/default/tasklane; /healthz answers, the database is
#      /var/lib/tasklane/tasklane.db; register an account and a task; stop it;
#   5. upgrade (dpkg -i V+ci2): the conffile keeps the edit, the account and the task are
#      still there after a restart;
#   6. dpkg -r keeps the data and the conffile; dpkg -P deletes both.
#
#   sudo scripts/deb_check.sh
#
# Safe to re-run, and leaves no server running: a run that died half-way is cleaned up by
# the next (it marks what it installed with /var/lib/tasklane/.deb-check). It refuses to
# touch a tasklane package, /var/lib/tasklane or /etc/default/tasklane it did not
# install. Installs cargo-deb (pinned) and lintian when missing. The `tasklane` system
# user and group stay after the purge, as Debian leaves system users (files elsewhere may
# still be theirs); a re-run reuses them.
#
#   DEB_CHECK_KEEP=1   on failure, leave the package installed for a look (the server
#                      is stopped regardless)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CARGO_DEB_VERSION=3.8.0
STATE=/var/lib/tasklane
CONF=/etc/default/tasklane
MARK=$STATE/.deb-check
PIDFILE=/run/tasklane-deb-check.pid
OUT=$ROOT/target/deb-check

step() { echo "==> $*" >&2; }
die() { echo "deb_check: $*" >&2; exit 1; }
trap 'echo "deb_check: FAILED (scripts/deb_check.sh line $LINENO)" >&2' ERR

[[ $(id -u) == 0 ]] || die "run as root (dpkg -i, a system user): sudo $0"
export DEBIAN_FRONTEND=noninteractive

# --- tools ------------------------------------------------------------------------------
if [[ $(cargo deb --version 2>/dev/null) != *" $CARGO_DEB_VERSION"* ]]; then
    step "cargo install cargo-deb --version $CARGO_DEB_VERSION --locked"
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
fi
if ! command -v lintian >/dev/null; then
    step "apt-get install lintian"
    apt-get update -qq
    apt-get install -y -qq lintian >/dev/null
fi
for tool in dpkg dpkg-query curl python3 setpriv runuser; do
    command -v "$tool" >/dev/null || die "needs $tool"
done

# --- the server, started as the unit would ----------------------------------------------
SERVER_PID=
stop_server() {
    local pid=${SERVER_PID:-}
    # An earlier run's server: its pid file, and only if that process is a tasklane.
    if [[ -z $pid && -f $PIDFILE ]]; then
        pid=$(cat "$PIDFILE")
        [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == /usr/bin/tasklane* ]] || pid=
    fi
    if [[ -n $pid ]]; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    SERVER_PID=
    rm -f "$PIDFILE"
}

# The value of `Key=` in the installed unit's [Service] section (the last one, as systemd
# reads most keys); empty when absent.
unit_value() {
    sed -n '/^\[Service\]/,/^\[/p' "$UNIT" | sed -n "s/^$1=//p" | tail -n 1
}

start_server() {
    local exec_start user group wd umask envfile
    exec_start=$(unit_value ExecStart)
    user=$(unit_value User)
    group=$(unit_value Group)
    wd=$(unit_value WorkingDirectory)
    umask=$(unit_value UMask)
    envfile=$(unit_value EnvironmentFile)
    envfile=${envfile#-}
    [[ $(grep -c '^ExecStart=' "$UNIT") == 1 && $exec_start == /* ]] ||
        die "the unit's ExecStart is not one plain absolute command line: teach start_server"
    ! grep -q '^Environment=' "$UNIT" ||
        die "the unit sets Environment=; start_server only reads EnvironmentFile=: teach it"
    [[ -n $user && -n $group && -n $wd && -n $umask && $envfile == "$CONF" ]] ||
        die "the unit lacks User, Group, WorkingDirectory, UMask or EnvironmentFile=$CONF"
    local -a argv
    read -r -a argv <<<"$exec_start"
    step "starting as $user:$group in $wd, umask $umask, $envfile: ${argv[*]}"
    # As systemd: a clean environment (the variables it sets for a User= service) plus
    # the EnvironmentFile, read by root; then the user's ids, no capabilities, no new
    # privileges.
    (
        cd "$wd"
        umask "$umask"
        exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            HOME="$wd" USER="$user" LOGNAME="$user" SHELL=/usr/sbin/nologin \
            bash -c 'set -a; . "$1"; set +a; shift; exec "$@"' _ "$envfile" \
            setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
            --inh-caps=-all --bounding-set=-all -- "${argv[@]}"
    ) >>"$OUT/server.log" 2>&1 &
    SERVER_PID=$!
    echo "$SERVER_PID" >"$PIDFILE"
    for _ in $(seq 1 300); do
        curl -sf "$BASE/healthz" >/dev/null && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/server.log" >&2; die "the server exited"; }
        sleep 0.1
    done
    curl -sf "$BASE/healthz" >/dev/null || { cat "$OUT/server.log" >&2; die "no /healthz"; }
    [[ $(stat -c %U "/proc/$SERVER_PID") == "$user" ]] || die "the server does not run as $user"
    [[ $(readlink "/proc/$SERVER_PID/cwd") == "$wd" ]] || die "the server is not in $wd"
}

# dpkg "$@", failing on any complaint of the package's scripts (they must say nothing
# on any path, systemd or not).
dpkg_quiet() {
    dpkg "$@" </dev/null 2>&1 | tee "$OUT/dpkg.log" >&2
    ! grep -E '/var/lib/dpkg/(info/tasklane|tmp\.ci/)' "$OUT/dpkg.log" ||
        die "a maintainer script complained during dpkg $*"
}

# --- leftovers of an earlier run; refusing to touch anything else -----------------------
status=$(dpkg-query -W -f='${db:Status-Status}' tasklane 2>/dev/null || true)
if [[ -e $MARK ]]; then
    step "cleaning up after an earlier run of this check"
    stop_server
    dpkg -P tasklane >/dev/null
    rm -rf "$STATE"
elif [[ ${status:-not-installed} != not-installed || -e $STATE || -e $CONF ]]; then
    die "tasklane is installed here, or $STATE or $CONF exists, and not by this check: refusing to touch it"
fi

INSTALLED=
cleanup() {
    local rc=$?
    stop_server
    if [[ -n $INSTALLED && $rc != 0 && -z ${DEB_CHECK_KEEP:-} ]]; then
        dpkg -P tasklane >/dev/null 2>&1 || true
        rm -rf "$STATE"
    fi
    exit "$rc"
}
trap cleanup EXIT

# --- build and lint ---------------------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT"
step "building the package (and the upgrade to it: the same, revision +ci2)"
mkdir -p "$OUT/v1" "$OUT/v2"
deb1=$(scripts/deb_build.sh --output "$OUT/v1/")
version1=$(dpkg-deb -f "$deb1" Version)
deb2=$(scripts/deb_build.sh --output "$OUT/v2/" --deb-revision "${version1##*-}+ci2")
version2=$(dpkg-deb -f "$deb2" Version)
dpkg --compare-versions "$version2" gt "$version1" || die "$version2 is not newer than $version1"
dpkg-deb -I "$deb1" >&2

step "lintian $(basename "$deb1")"
# As an unprivileged user, as lintian asks; the overrides ship in the package.
chmod a+rx "$OUT" "$OUT/v1" && chmod a+r "$deb1"
runuser -u nobody -- lintian --display-info --fail-on error,warning,info "$deb1" >&2

step "maintainer scripts"
# No systemd here to watch them act; check that cargo-deb put in what they promise.
dpkg-deb -e "$deb1" "$OUT/control"
for script in postinst prerm postrm; do sh -n "$OUT/control/$script"; done
has() { grep -qF -- "$2" "$OUT/control/$1" || die "$1 lacks: $2"; }
has postinst 'adduser --system'
has postinst 'deb-systemd-helper enable tasklane.service'
has postinst 'if [ -d /run/systemd/system ]; then'
has postinst '_dh_action=restart'
has prerm 'if [ -d /run/systemd/system ] && [ "$1" = remove ]; then'
has postrm 'rm -rf /var/lib/tasklane'
# cargo-deb fills in every copy of the token, comments included: once per script.
for script in postinst prerm postrm; do
    [[ $(grep -c '^set -e' "$OUT/control/$script") == 1 ]] || die "$script: not one set -e"
done
[[ $(grep -c 'Automatically added by cargo-deb' "$OUT/control/postinst") == 2 ]] ||
    die "postinst: the systemd snippets are not there exactly once each"

# --- install ----------------------------------------------------------------------------
step "dpkg -i $(basename "$deb1")"
INSTALLED=1
dpkg_quiet -i "$deb1"
touch "$MARK"
[[ $(dpkg-query -W -f='${db:Status-Status} ${Version}' tasklane) == "installed $version1" ]] ||
    die "not installed as $version1"

UNIT=$(dpkg -L tasklane | grep '/systemd/system/tasklane\.service$' | head -n 1)
[[ -n $UNIT ]] || die "the package has no systemd unit"
cmp -s "$UNIT" deploy/tasklane.service || die "$UNIT is not deploy/tasklane.service"

step "files, owners and modes"
expect() { # path owner:group octal-mode type
    [[ -e $1 ]] || die "missing $1"
    local got
    got=$(stat -c '%U:%G %a %F' "$1")
    [[ $got == "$2 $3 $4" ]] || die "$1 is $got, expected $2 $3 $4"
    echo "   ok $1 ($got)" >&2
}
expect /usr/bin/tasklane root:root 755 "regular file"
expect "$UNIT" root:root 644 "regular file"
expect "$CONF" root:root 600 "regular file"
expect /usr/share/bash-completion/completions/tasklane root:root 644 "regular file"
expect /usr/share/zsh/vendor-completions/_tasklane root:root 644 "regular file"
expect /usr/share/fish/vendor_completions.d/tasklane.fish root:root 644 "regular file"
expect /usr/share/man/man1/tasklane.1.gz root:root 644 "regular file"
expect /usr/share/doc/tasklane/copyright root:root 644 "regular file"
expect "$STATE" tasklane:tasklane 700 directory
dpkg-query -W -f='${Conffiles}\n' tasklane | grep -q "^ $CONF " || die "$CONF is not a conffile"
/usr/bin/tasklane --version >&2
zcat /usr/share/man/man1/tasklane.1.gz | grep -q '^\.TH tasklane' || die "the man page is not tasklane's"
grep -q 'complete .*tasklane' /usr/share/bash-completion/completions/tasklane || die "bash completion"
grep -q '#compdef tasklane' /usr/share/zsh/vendor-completions/_tasklane || die "zsh completion"
grep -q 'complete -c tasklane' /usr/share/fish/vendor_completions.d/tasklane.fish || die "fish completion"

step "the tasklane system user and group"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd tasklane) || die "no user tasklane"
[[ $(getent group tasklane | cut -d: -f3) == "$gid" ]] || die "tasklane's group is not tasklane"
((uid < 1000)) || die "tasklane (uid $uid) is not a system user"
[[ $home == "$STATE" && $shell == /usr/sbin/nologin ]] || die "tasklane: home $home, shell $shell"
echo "   ok tasklane: uid $uid, gid $gid, home $home, shell $shell" >&2
if command -v systemd-analyze >/dev/null; then
    step "systemd-analyze verify $UNIT"
    systemd-analyze verify "$UNIT" >&2
fi

# --- serve ------------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
step "an admin's edit of $CONF: TASKLANE_BIND=127.0.0.1:$PORT"
EDIT="TASKLANE_BIND=127.0.0.1:$PORT  # deb_check"
echo "$EDIT" >>"$CONF"
start_server
expect "$STATE/tasklane.db" tasklane:tasklane 600 "regular file"

PASSWORD=deb-check-$(python3 -c 'import secrets; print(secrets.token_hex(12))')
json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
curl -sf "$BASE/api/register/" -H 'content-type: application/json' \
    -d "{\"username\":\"debcheck\",\"email\":\"debcheck@example.com\",\"password\":\"$PASSWORD\"}" >/dev/null
login() {
    curl -sf "$BASE/api/token/" -H 'content-type: application/json' \
        -d "{\"username\":\"debcheck\",\"password\":\"$PASSWORD\"}" | json '["access"]'
}
TOKEN=$(login)
curl -sf "$BASE/api/tasks/" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"title":"Survive the upgrade"}' >/dev/null
stop_server
echo "   ok served on $BASE, database $STATE/tasklane.db, an account and a task in it" >&2

# --- upgrade ----------------------------------------------------------------------------
step "upgrade: dpkg -i $(basename "$deb2")"
dpkg_quiet -i "$deb2"
[[ $(dpkg-query -W -f='${db:Status-Status} ${Version}' tasklane) == "installed $version2" ]] ||
    die "not upgraded to $version2"
grep -qxF "$EDIT" "$CONF" || die "the upgrade lost the edit of $CONF"
expect "$STATE" tasklane:tasklane 700 directory
start_server
TOKEN=$(login)
titles=$(curl -sf "$BASE/api/tasks/" -H "authorization: Bearer $TOKEN" | json '[0]["title"]')
[[ $titles == "Survive the upgrade" ]] || die "the task did not survive the upgrade: $titles"
stop_server
echo "   ok the account and the task survived, the edit of $CONF too" >&2

# --- remove and purge -------------------------------------------------------------------
step "dpkg -r tasklane: the data and the conffile stay"
dpkg_quiet -r tasklane
[[ $(dpkg-query -W -f='${db:Status-Status}' tasklane) == config-files ]] || die "not removed"
[[ ! -e /usr/bin/tasklane && ! -e $UNIT ]] || die "dpkg -r left the binary or the unit"
grep -qxF "$EDIT" "$CONF" || die "dpkg -r lost $CONF or its edit"
expect "$STATE/tasklane.db" tasklane:tasklane 600 "regular file"

step "dpkg -P tasklane: the data and the conffile go"
dpkg_quiet -P tasklane
INSTALLED=
status=$(dpkg-query -W -f='${db:Status-Status}' tasklane 2>/dev/null || true)
[[ ${status:-not-installed} == not-installed ]] || die "still known to dpkg: $status"
[[ ! -e $STATE ]] || die "dpkg -P left $STATE"
[[ ! -e $CONF ]] || die "dpkg -P left $CONF"
[[ ! -e /etc/systemd/system/multi-user.target.wants/tasklane.service ]] ||
    die "dpkg -P left the unit enabled"
echo "   ok purged; the system user tasklane stays, as Debian leaves system users" >&2
step "the Debian package installs, serves, upgrades, removes and purges"
