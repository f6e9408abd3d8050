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
