#!/bin/sh
# Install every build, test and run dependency of multisync on Debian 12.
# Does nothing (and needs no network) when everything is already present.
# Usage: deploy/install-deps.sh [--dev] [--bench]
#   build and run: compiler, pkg-config, the libraries, rsync, scdoc (make
#                  builds the man pages)
#   make test:     cmocka, jq, curl and openssl (the HTTP API test),
#                  iproute2 (network namespaces), procps,
#                  attr and acl (setfattr, setfacl: the change table test),
#                  clang + its sanitizer/libFuzzer runtime (the fuzz step),
#                  man-db (man -l renders the pages), systemd
#                  (systemd-analyze verify/security, sysusers, tmpfiles),
#                  debhelper, dpkg-dev and lintian (make deb, the package test),
#                  prometheus (promtool check metrics: the metrics test; on a
#                  host with systemd the package also starts its server)
#                  chromium and python3 (the status page in a headless
#                  browser, served by a minimal HTTP server)
#   --dev adds:    valgrind, cppcheck, clang-format
#   --bench adds:  fpart (fpsync, a method make bench compares), GNU time
#                  (CPU and peak memory of each method), openssl and bc
set -eu

PKGS="build-essential pkg-config libzmq3-dev libsodium-dev libmsgpack-dev \
libjansson-dev libinih-dev libsqlite3-dev libmicrohttpd-dev rsync scdoc \
libcmocka-dev jq curl openssl iproute2 procps clang libclang-rt-14-dev attr acl \
man-db systemd debhelper dpkg-dev lintian prometheus chromium python3"
for arg in "$@"; do
    case $arg in
        --dev) PKGS="$PKGS valgrind cppcheck clang-format" ;;
        --bench) PKGS="$PKGS fpart time openssl bc" ;;
        *) echo "install-deps: unknown option $arg (--dev, --bench)" >&2; exit 2 ;;
    esac
done

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
