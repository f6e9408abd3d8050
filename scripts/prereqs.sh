#!/usr/bin/env bash
# Install what building and testing cairn needs on a fresh Debian machine, when missing:
# libsmbclient (SMB 3 client library, for the `pavao` crate), Samba's smbd (the tests' share),
# age (keys written by Debian's age-keygen must work), pkg-config, and for the console's browser
# test Debian's headless Chromium, its WebDriver and Python's selenium; for the package test
# (scripts/package-test.sh) man-db (`man -w`), systemd (`systemd-analyze verify` of the unit; the
# package only installs files in a container, it starts nothing without systemd as PID 1) and
# cargo-deb (from crates.io).
set -euo pipefail
need=()
[[ -e /usr/include/samba-4.0/libsmbclient.h ]] || need+=(libsmbclient-dev)
command -v smbd >/dev/null || need+=(samba)
command -v age-keygen >/dev/null || need+=(age)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v python3 >/dev/null || need+=(python3)
[[ -x /usr/bin/chromium ]] || need+=(chromium)
[[ -x /usr/bin/chromedriver ]] || need+=(chromium-driver)
python3 -c 'import selenium.webdriver' 2>/dev/null || need+=(python3-selenium)
command -v man >/dev/null || need+=(man-db)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)
if ((${#need[@]})); then
  echo "installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need[@]}" >&2
fi
if ! command -v cargo-deb >/dev/null; then
  echo "installing: cargo-deb" >&2
  env -u CARGO_TARGET_DIR cargo install cargo-deb --locked --quiet >&2
fi

# Object storage emulators for the S3 and Azure Blob tests (tests/integration/objstore.rs): Azurite
# from npm (3.35: later ones need Node >= 21), and moto's S3 server with boto3 and Azure's SDK (which
# set up the bucket, the key and the container) in a venv that the tests and the acceptance script share.
if ! command -v azurite-blob >/dev/null; then
  command -v npm >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get update -qq >&2; apt-get install -y -qq nodejs npm >&2; }
  echo "installing: azurite (npm)" >&2
  npm install -g --no-audit --no-fund --no-update-notifier --loglevel=error azurite@3.35.0 >&2
fi
venv=${ACCEPT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn-accept/venv}
if ! "$venv/bin/python" -c 'import moto, boto3, flask_cors, azure.storage.blob' 2>/dev/null; then
  echo "installing: moto[server], boto3, azure-storage-blob (PyPI, into $venv)" >&2
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq python3-venv >&2
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]==5.2.5" "boto3==1.44.8" \
    "azure-storage-blob==12.31.1" >&2
fi
