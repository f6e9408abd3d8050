#!/usr/bin/env bash
# Run every fuzz target for FUZZ_SECONDS (default 30) each; exit non-zero on any crash.
#
#   fuzz/run.sh                 # all targets, 30 s each
#   FUZZ_SECONDS=300 fuzz/run.sh tree manifest
#
# Works on stable Rust: cargo-fuzz needs nightly-only flags (-Zsanitizer), which
# RUSTC_BOOTSTRAP=1 unlocks. Crash inputs land in fuzz/artifacts/<target>/; reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/crash-…
set -euo pipefail

cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-30}"
all=(pack_header tree manifest envelope config sealed_key signed decompress)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

echo "== building fuzz targets"
cargo fuzz build
triple="$(rustc -vV | sed -n 's/^host: //p')"
"fuzz/target/$triple/release/gen_seeds" fuzz/corpus

failed=()
for t in "${targets[@]}"; do
    echo "== fuzzing $t for ${seconds}s"
    mkdir -p "fuzz/corpus/$t"
    # -rss_limit_mb / -malloc_limit_mb: a decoder that allocates without bound is a failure too.
    if ! cargo fuzz run "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=512 \
        -print_final_stats=1 2>"fuzz/corpus/$t.log"; then
        tail -n 40 "fuzz/corpus/$t.log"
        failed+=("$t")
    fi
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "fuzz/corpus/$t.log" | sed "s/^/   $t /" || true
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "FUZZ FAILURES: ${failed[*]} (inputs in fuzz/artifacts/)"
    exit 1
fi
echo "== all fuzz targets ran ${seconds}s without a crash"
