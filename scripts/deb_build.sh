#!/usr/bin/env bash
# Build the Debian package: target/debian/tasklane_<version>-<revision>_<arch>.deb.
#
#   scripts/deb_build.sh [cargo deb options…]      (or: just deb)
#
# 1. `cargo build --release`;
# 2. generate the shell completions (bash, zsh, fish) and the man page from that binary
#    (`tasklane completions …`, `tasklane man`) into target/deb-assets/, which Cargo.toml's
#    [package.metadata.deb] assets name: cargo-deb packages files, it does not make them;
# 3. `cargo deb --no-build` with the given options (e.g. `--deb-revision 2`,
#    `--output DIR`), then print the package's path on stdout.
#
# Needs cargo-deb: `cargo install cargo-deb --version 3.8.0 --locked` (the version CI
# pins in scripts/deb_check.sh). Install the result with `apt install ./target/debian/…deb`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ASSETS=target/deb-assets
step() { echo "==> $*" >&2; }

cargo deb --version >/dev/null 2>&1 || {
    echo "deb_build: needs cargo-deb: cargo install cargo-deb --version 3.8.0 --locked" >&2
    exit 2
}

step "cargo build --release"
cargo build --release >&2
BIN=target/release/tasklane

step "completions and man page from $BIN into $ASSETS"
rm -rf "$ASSETS"
mkdir -p "$ASSETS"
"$BIN" completions bash >"$ASSETS/tasklane.bash"
"$BIN" completions zsh >"$ASSETS/_tasklane"
"$BIN" completions fish >"$ASSETS/tasklane.fish"
"$BIN" man >"$ASSETS/tasklane.1"
for f in "$ASSETS"/*; do
    [[ -s $f ]] || { echo "deb_build: $f is empty" >&2; exit 1; }
done

step "cargo deb --no-build $*"
# cargo-deb prints the package's path last on stdout.
deb=$(cargo deb --no-build "$@" | tail -n 1)
[[ -f $deb ]] || { echo "deb_build: cargo deb made no package ($deb)" >&2; exit 1; }
step "built $deb"
echo "$deb"
