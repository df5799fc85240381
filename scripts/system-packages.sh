#!/usr/bin/env bash
# System packages the product needs: Noto CJK fonts and Pango for PDF letters, Chromium for the browser tests.
# Installs them with apt-get when running as root; otherwise says exactly what to install.
set -euo pipefail
need=()
# Read the listings whole: `grep -q` closing a pipe early would fail the check under pipefail.
fonts=$(fc-list : family 2>/dev/null || true)
libraries=$(ldconfig -p 2>/dev/null || true)
grep -qi "Noto Sans CJK" <<<"$fonts" || need+=(fonts-noto-cjk)
grep -q "libpango-1.0" <<<"$libraries" || need+=(libpango-1.0-0 libpangoft2-1.0-0)
command -v chromium >/dev/null || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${need[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
else
  echo "Missing system packages: ${need[*]}" >&2
  echo "Install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
