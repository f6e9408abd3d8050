#!/usr/bin/env bash
# The Debian package (PRODUCT §10): build it with `cargo deb` (reusing the release build the suite
# has made), install it on this machine, check what an operator gets (binary, man pages, bash
# completion, the systemd unit as `systemd-analyze verify` judges it, the /etc/cairn conffile),
# then remove it and check nothing is left. Needs root (dpkg); run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { dpkg -P cairn >/dev/null 2>&1 || true   # and its conffile
echo "package test: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || fail "needs root (dpkg -i)"
command -v cargo-deb >/dev/null || fail "cargo-deb is missing: run scripts/prereqs.sh"
if [[ $(dpkg-query -W -f='${db:Status-Status}' cairn 2>/dev/null) == installed ]]; then fail "a cairn package is already installed here; remove it first (dpkg -r cairn)"; fi
target=${CARGO_TARGET_DIR:-$PWD/target}
log=$(mktemp)
trap 'rm -f "$log"; dpkg -r cairn >/dev/null 2>&1 || true' EXIT
cargo deb --quiet >"$log" 2>&1 || fail "cargo deb failed: $(tail -c 600 "$log")"
deb=$(ls -t "$target"/debian/cairn_*.deb | head -n 1)
dpkg -i "$deb" >"$log" 2>&1 || fail "dpkg -i failed: $(tail -c 600 "$log")"
[[ $(command -v cairn) == /usr/bin/cairn ]] || fail "no /usr/bin/cairn"
/usr/bin/cairn --version | grep -q "^cairn $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)$" \
  || fail "cairn --version does not print the package's version"
for page in cairn cairn-backup cairn-doctor cairn-target-set; do
  man -w "$page" >/dev/null 2>&1 || fail "man -w $page finds no page"
done
man -P cat cairn-doctor 2>/dev/null | grep -q -- '--json' || fail "man cairn-doctor does not show --json"
# `cairn ba<TAB>`: the completion function the package's script registers offers `backup`
comp=/usr/share/bash-completion/completions/cairn
[[ -f $comp ]] || fail "no bash completion at $comp"
got=$(bash -c "source $comp; COMP_WORDS=(cairn ba); COMP_CWORD=1; COMP_LINE='cairn ba'; COMP_POINT=8
  f=\$(complete -p cairn | sed -n 's/.*-F \([^ ]*\).*/\1/p'); \"\$f\" cairn ba cairn; printf '%s\n' \"\${COMPREPLY[@]}\"")
grep -qx backup <<<"$got" || fail "completing 'cairn ba' offered: $got"
[[ -f /usr/share/zsh/vendor-completions/_cairn && -f /usr/share/fish/vendor_completions.d/cairn.fish ]] \
  || fail "the zsh or fish completion is missing"
unit=/lib/systemd/system/cairn.service
[[ -f $unit ]] || fail "no $unit"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$unit" >"$log" 2>&1 || fail "systemd-analyze verify $unit: $(cat "$log")"
fi
dpkg-query -W -f='${Conffiles}\n' cairn | grep -q '/etc/cairn/cairn.env' || fail "/etc/cairn/cairn.env is not a conffile"
dpkg -r cairn >"$log" 2>&1 || fail "dpkg -r failed: $(tail -c 400 "$log")"
for f in /usr/bin/cairn /usr/share/man/man1/cairn.1* "$comp" "$unit"; do
  [[ ! -e $f ]] || fail "dpkg -r left $f"
done
dpkg -P cairn >/dev/null 2>&1 || true   # and its conffile
echo "package test: cargo deb, dpkg -i, man, completion, unit and dpkg -r ok ($(du -k "$deb" | cut -f1) KiB)"
