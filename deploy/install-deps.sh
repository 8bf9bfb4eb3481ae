#!/bin/sh
# Install every build, test and run dependency of multisync on Debian 12.
# Does nothing (and needs no network) when everything is already present.
# Usage: deploy/install-deps.sh [--dev]   (--dev adds clang and valgrind for
# sanitizer and fuzz builds)
set -eu

PKGS="build-essential pkg-config libzmq3-dev libsodium-dev libmsgpack-dev \
libcmocka-dev libjansson-dev libinih-dev libsqlite3-dev rsync iproute2 procps jq"
if [ "${1:-}" = "--dev" ]; then
    PKGS="$PKGS clang valgrind"
fi

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all dependencies present"
    exit 0
fi

echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
