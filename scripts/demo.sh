#!/usr/bin/env bash
# cairn's main job on a local default: a demo repository, a generated key, a sample service,
# one backup, a listing, a verify and a restore. Everything lives under ./demo (remove it to
# start again).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh
cargo build --release --quiet --bin cairn
CAIRN=$PWD/target/release/cairn
D=$PWD/demo
rm -rf "$D"; mkdir -p "$D/sample/identity/conf" "$D/sample/identity/certs"
export CAIRN_REPO=$D/repo
for i in $(seq 1 200); do echo "{\"tenant\": \"t$i\", \"quota\": $((i * 7))}" >"$D/sample/identity/conf/tenant-$i.json"; done
head -c 4000000 /dev/urandom >"$D/sample/identity/certs/ca.bin"
ln -s conf/tenant-1.json "$D/sample/identity/default-tenant"
echo "== cairn key generate --output demo/identity.txt"
"$CAIRN" key generate --output "$D/identity.txt" | tee "$D/recipient.txt"
echo "== cairn init --recipient $(cat "$D/recipient.txt")"
"$CAIRN" init --recipient "$(cat "$D/recipient.txt")"
echo "== cairn service add identity --path demo/sample/identity"
"$CAIRN" service add identity --path "$D/sample/identity"
"$CAIRN" service add settings --command "printf 'region=west\nplan=gold\n'"
echo "== cairn backup"
"$CAIRN" backup
echo "== cairn list"
"$CAIRN" list
echo "== cairn verify"
"$CAIRN" verify
echo "== cairn restore latest --target demo/restored --identity demo/identity.txt"
"$CAIRN" restore latest --target "$D/restored" --identity "$D/identity.txt"
diff -r "$D/sample/identity" "$D/restored/identity" && echo "restored tree identical to the source"
