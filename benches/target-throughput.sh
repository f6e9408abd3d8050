#!/usr/bin/env bash
# Export and recovery throughput to each kind of target, on this machine's loopback servers: the
# test Samba share, S3 (moto) and Azure Blob (Azurite), started by ../shared/accept/lib.sh as the
# acceptance scripts start them. A bench, not a test: it prints figures and fails only when a
# step fails.
#
#   CAIRN=target/release/cairn MIB=512 [TARGETS="smb s3 azure"] [RUNS=1] benches/target-throughput.sh
#
# For each target: a fresh repository backs up MIB MiB that do not compress (so bytes moved are
# bytes measured), then `export` to the target is timed (upload MB/s), then `recover --from` the
# target alone into a new repository and directory is timed (download, check and restore MB/s).
# For the SMB share, Samba's own `smbclient` putting and getting the same MIB MiB as one file on
# the same share, with SMB 3 encryption as cairn requires it, is measured in the same run, right
# before each cairn run (RUNS alternating pairs), so both see the same machine. CAIRN_BEFORE=BIN
# adds, in each run, the same SMB export and recovery by another build (e.g. main's), for a
# before/after in one run.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/.." && pwd)
LIB=${ACCEPT_LIB:-$PROJECT/../shared/accept/lib.sh}
[[ -f $LIB ]] || { echo "no $LIB: put ../shared beside the project" >&2; exit 2; }
# shellcheck source=/dev/null
source "$LIB"
MIB=${MIB:-512}
TARGETS=${TARGETS:-smb s3 azure}
RUNS=${RUNS:-1}
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION \
  AWS_DEFAULT_REGION AWS_ENDPOINT_URL AZURE_STORAGE_ACCOUNT AZURE_STORAGE_KEY \
  AZURE_STORAGE_CONNECTION_STRING
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export C_TIMEOUT=1800

has() { [[ " $TARGETS " == *" $1 "* ]]; }
if has smb; then
  start_samba
  command -v smbclient >/dev/null || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq smbclient >&2; } \
    || fail "could not install smbclient"
  # credentials in a file (never on argv)
  printf 'username = cairn\npassword = %s\n' "$(cat "$WORK/smb-password")" >"$WORK/smb-auth"
  chmod 600 "$WORK/smb-auth"
fi
has s3 && start_s3
has azure && start_azurite
mkdir -p "$WORK/src/data"
python3 - "$WORK/src/data/random.bin" "$MIB" <<'PY'
import random, sys
r = random.Random(7)
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2])):
        f.write(r.randbytes(1 << 20))
PY
[[ $(stat -c %s "$WORK/src/data/random.bin") == $((MIB << 20)) ]] || fail "could not write the test data"

secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }
mbs() { python3 -c "import sys; print(f'{$MIB * 1048576 / 1e6 / float(sys.argv[1]):.0f}')" "$1"; }

one() {
  local name=$1 url=$2; shift 2
  local -a auth=("$@")
  local w=$WORK/$name t0 t1 t1b t2 fp
  mkdir -p "$w"
  export CAIRN_REPO=$w/repo
  "$CAIRN" key generate --output "$w/id.txt" >"$w/recipient" 2>/dev/null || fail "key generate failed"
  ok init --recipient "$(tr -d '[:space:]' <"$w/recipient")"
  ok service add data --path "$WORK/src/data"
  ok backup
  ok target set "$url" "${auth[@]}"
  t0=$(date +%s.%N)
  ok export
  t1=$(date +%s.%N)
  ok key list --json
  fp=$(json "d['fingerprint']")
  rm -rf "$w/repo"
  export CAIRN_REPO=$w/recovered
  t1b=$(date +%s.%N)
  ok recover --from "$url" "${auth[@]}" --identity "$w/id.txt" --fingerprint "$fp" \
    --target "$w/restored"
  t2=$(date +%s.%N)
  [[ -f $w/restored/data/random.bin ]] || fail "$name: nothing recovered at $w/restored/data/random.bin"
  cmp -s "$WORK/src/data/random.bin" "$w/restored/data/random.bin" || fail "$name: recovered bytes differ"
  echo "| $name | $MIB MiB | $(secs "$t0" "$t1") s · $(mbs "$(secs "$t0" "$t1")") MB/s | $(secs "$t1b" "$t2") s · $(mbs "$(secs "$t1b" "$t2")") MB/s |"
  rm -rf "$w"
}

# smbclient puts the file on the share, then gets it back, with SMB 3 encryption (as cairn).
smbclient_run() {
  local t0 t1 t2 got=$WORK/smbclient-got.bin
  local -a sc=(smbclient "//127.0.0.1/backups" -p "$SMB_PORT" -A "$WORK/smb-auth" -m SMB3
    --client-protection=encrypt)
  t0=$(date +%s.%N)
  "${sc[@]}" -c "put $WORK/src/data/random.bin smbclient.bin" >"$WORK/sc.out" 2>&1 \
    || fail "smbclient put failed: $(head -c 400 "$WORK/sc.out")"
  t1=$(date +%s.%N)
  "${sc[@]}" -c "get smbclient.bin $got" >"$WORK/sc.out" 2>&1 \
    || fail "smbclient get failed: $(head -c 400 "$WORK/sc.out")"
  t2=$(date +%s.%N)
  cmp -s "$WORK/src/data/random.bin" "$got" || fail "smbclient: the bytes got back differ"
  "${sc[@]}" -c "del smbclient.bin" >/dev/null 2>&1
  rm -f "$got"
  echo "| smbclient (put, get) | $MIB MiB | $(secs "$t0" "$t1") s · $(mbs "$(secs "$t0" "$t1")") MB/s | $(secs "$t1" "$t2") s · $(mbs "$(secs "$t1" "$t2")") MB/s |"
}

echo "| target | data | export | recover --from (fetch, check, restore) |"
echo "| --- | ---: | ---: | ---: |"
for i in $(seq "$RUNS"); do
  if has smb; then
    smbclient_run
    if [[ -n ${CAIRN_BEFORE:-} ]]; then
      CAIRN=$CAIRN_BEFORE one smb-before "$SMB_URL/before$i" --username cairn \
        --password-file "$WORK/smb-password"
      rm -rf "${SMB_SHARE_DIR:?}/before$i"
    fi
    one smb "$SMB_URL/bench$i" --username cairn --password-file "$WORK/smb-password"
    rm -rf "${SMB_SHARE_DIR:?}/bench$i"
  fi
  if has s3; then
    one s3 "s3://backups/bench$i" --endpoint "$S3_ENDPOINT" --region us-east-1 \
      --username "$(cat "$WORK/s3-id")" --password-file "$WORK/s3-secret"
  fi
  if has azure; then
    one azure "az://$AZ_ACCOUNT/backups/bench$i" --endpoint "$AZ_ENDPOINT" --password-file "$WORK/az-key"
  fi
done
