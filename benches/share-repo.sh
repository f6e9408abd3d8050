# The drill's repository (benches/drill.sh, benches/recover-ab.sh), sourced after
# ../shared/accept/lib.sh and `start_samba`: a key in $WORK/id.txt, a repository at $WORK/repo with
# the service `data` at $site/data and the loopback share's folder `drill` as its target. Sets
# url, auth (the share's credentials, as arguments) and fp (the key's fingerprint).
url=$SMB_URL/drill
auth=(--username cairn --password-file "$WORK/smb-password")
export CAIRN_REPO=$WORK/repo
"$CAIRN" key generate --output "$WORK/id.txt" >"$WORK/recipient" 2>/dev/null || fail "key generate failed"
ok init --recipient "$(tr -d '[:space:]' <"$WORK/recipient")"
ok service add data --path "$site/data"
ok target set "$url" "${auth[@]}"
ok key list --json
fp=$(json "d['fingerprint']")
