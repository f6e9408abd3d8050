# The drill's site (benches/drill.sh, benches/recover-ab.sh, benches/backup-rss-ab.sh), sourced
# after ../shared/accept/lib.sh with HERE (this directory) and GIB set: the loopback Samba share
# started, and GIB GiB of the drill's data (benches/gen-site.py) written under $site/data.
export C_TIMEOUT=3600
start_samba
site=$WORK/site
mkdir -p "$site/data"
note "writing $GIB GiB of data"
python3 "$HERE/gen-site.py" "$site/data" "$GIB" || fail "cannot write the data"
