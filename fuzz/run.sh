#!/usr/bin/env bash
# Run every fuzz target for FUZZ_SECONDS (default 30) each; exit non-zero on any crash.
#
#   fuzz/run.sh                                  # all targets, 30 s each (CI's short run)
#   FUZZ_SECONDS=300 fuzz/run.sh tree manifest
#   FUZZ_RUNS=10000000 fuzz/run.sh tree          # a fixed number of executions instead
#
# Works on stable Rust: cargo-fuzz needs nightly-only flags (-Zsanitizer), which
# RUSTC_BOOTSTRAP=1 unlocks. The corpora in fuzz/corpus/<target>/ are committed (minimised with
# `cargo fuzz cmin <target>`); gen_seeds adds its seed-* files to them first (same names, same
# bytes while the format is unchanged). Logs go to fuzz/logs/ (git-ignored). Crash inputs land in
# fuzz/artifacts/<target>/; reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/crash-…
set -euo pipefail

cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-30}"
if [ -n "${FUZZ_RUNS:-}" ]; then
    limit=(-runs="$FUZZ_RUNS")
    what="$FUZZ_RUNS executions"
else
    limit=(-max_total_time="$seconds")
    what="${seconds}s"
fi
all=(pack_header tree segment manifest envelope config sealed_key signed decompress text smb_negotiate dir_record files_cache chunk_base)
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
mkdir -p fuzz/logs

failed=()
for t in "${targets[@]}"; do
    echo "== fuzzing $t for $what"
    mkdir -p "fuzz/corpus/$t"
    log="fuzz/logs/$t.log"
    # -rss_limit_mb / -malloc_limit_mb: a decoder that allocates without bound is a failure too.
    if ! cargo fuzz run "$t" "fuzz/corpus/$t" -- \
        "${limit[@]}" -rss_limit_mb=1024 -malloc_limit_mb=512 \
        -print_final_stats=1 2>"$log"; then
        tail -n 40 "$log"
        failed+=("$t")
    fi
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" | sed "s/^/   $t /" || true
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "FUZZ FAILURES: ${failed[*]} (inputs in fuzz/artifacts/)"
    exit 1
fi
echo "== all fuzz targets ran $what without a crash"
