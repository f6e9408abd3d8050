#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit + integration tests (real Samba on 127.0.0.1,
# real kernel FUSE mounts, real age keys), a bounded fuzzing run of every decoder, and the
# acceptance scripts of ../shared/accept when present. Installs what it needs when missing.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh || exit 1
passed=0 failed=0 failures=()
step() {
  local name=$1; shift
  echo "=== $name"
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$name"); fi
}
step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --workspace --all-targets -- -D warnings
step "cargo test" cargo test --workspace -- --test-threads=2
if [[ -f fuzz/run.sh ]]; then
  step "fuzz (${FUZZ_SECONDS:=15}s per target)" env FUZZ_SECONDS="$FUZZ_SECONDS" bash fuzz/run.sh
fi
if [[ -d ../shared/accept ]]; then
  step "cargo build --release" cargo build --release --bin cairn
  for s in core share mount jobs trust pkg coord objstore api; do
    bin=$PWD/target/release/cairn
    # share.sh predates PRODUCT §7's required --fingerprint: see scripts/accept-compat/fingerprint-kept
    [[ $s == share ]] && bin=$PWD/scripts/accept-compat/fingerprint-kept
    [[ -f ../shared/accept/$s.sh ]] && step "accept/$s.sh" env CAIRN="$bin" CAIRN_REAL="$PWD/target/release/cairn" bash "../shared/accept/$s.sh"
  done
fi
# the Debian package, installed and removed on this machine (cargo deb reuses the release build)
step "package (cargo deb, dpkg -i, dpkg -r)" bash scripts/package-test.sh
echo
((failed)) && printf 'failed: %s\n' "${failures[@]}"
echo "suite: $passed passed, $failed failed"
((failed == 0))
