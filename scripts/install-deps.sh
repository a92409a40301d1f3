#!/usr/bin/env bash
# scripts/install-deps.sh — Debian packages janus.c needs to build and test (run as root or with
# sudo). CUDA is optional: the CUDA backend is built only when nvcc is found.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
PKGS="build-essential cmake pkg-config clang libpng-dev libjpeg62-turbo-dev libonig-dev libutf8proc-dev zlib1g-dev \
      libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libmicrohttpd-dev libedit-dev curl"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
# node + npm only for the optional GGUF interoperability test; keep an existing (non-Debian) install
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
command -v gzip >/dev/null 2>&1 || missing="$missing gzip"
# the server's browser test drives Debian's chromium; the two-replica test runs nginx (both optional)
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
if [ -n "$missing" ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
