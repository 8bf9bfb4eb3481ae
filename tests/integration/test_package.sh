#!/usr/bin/env bash
# The Debian package: debian/changelog has the programs' version, `make deb`
# builds it (leaving nothing in the tree or beside it), it holds what an
# operator needs where Debian puts it, lintian finds no error, and real dpkg
# installs it into a scratch root (maintainer scripts included, with
# DPKG_ROOT), where the three programs run and print their version, the
# multisync user and its folders exist, and nothing is enabled.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

VERSION=$(sed -n 's/^#define MS_VERSION "\(.*\)"$/\1/p' shared/ms_version.h)
[[ -n $VERSION ]] || fail "no MS_VERSION in shared/ms_version.h"

note "debian/changelog's version is MS_VERSION ($VERSION)"
changelog=$(dpkg-parsechangelog -S Version 2>/dev/null || head -1 debian/changelog | sed 's/.*(\(.*\)).*/\1/')
[[ $changelog == "$VERSION" ]] || fail "debian/changelog says $changelog, shared/ms_version.h $VERSION"

for tool in dpkg-buildpackage dh lintian dpkg-deb; do
    command -v $tool >/dev/null || { echo "SKIP: $tool missing (deploy/install-deps.sh installs it)"; exit 77; }
done
[[ $(id -u) == 0 ]] || { echo "SKIP: installing into a scratch root with dpkg needs root"; exit 77; }

# What the tree holds, and what dpkg-buildpackage would leave beside it, to
# see that the build leaves nothing. (Only its own kinds of files: the
# parent folder may be /tmp, which other programs write to meanwhile.)
snapshot() {
    git status --porcelain --ignored --untracked-files=all 2>/dev/null | grep -v '^!! \(build\|bin\)' || true
    ls -A .. | grep -E '^multisync[-_]|\.(deb|ddeb|buildinfo|changes|dsc)$' || true
}
snapshot >"$T/before"

note "make deb"
start=$SECONDS
make deb DEB_OUT="$T/deb" DEB_WORK="$T/work" >"$T/build.log" 2>&1 ||
    fail "make deb failed: $(tail -40 "$T/build.log")"
echo "    built in $((SECONDS - start)) s"
DEB=$T/deb/multisync_${VERSION}_$(dpkg --print-architecture).deb
[[ -f $DEB ]] || fail "no $DEB: $(ls "$T/deb")"
[[ ! -e $T/work ]] || fail "make deb left its work folder $T/work"
snapshot >"$T/after"
diff -u "$T/before" "$T/after" >"$T/left.diff" || fail "make deb left files in the tree or beside it:
$(cat "$T/left.diff")"

note "the package's fields and contents"
[[ $(dpkg-deb -f "$DEB" Version) == "$VERSION" ]] || fail "the package's version is $(dpkg-deb -f "$DEB" Version)"
depends=$(dpkg-deb -f "$DEB" Depends)
for dep in rsync libzmq5 libsodium23 libsqlite3-0; do
    grep -qE "(^|, )$dep( |,|$)" <<<"$depends" || fail "the package does not depend on $dep: $depends"
done
dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|' >"$T/contents"
for f in /usr/bin/multisync /usr/bin/multisync-master /usr/bin/multisync-worker \
    /usr/lib/multisync/nightly.sh \
    /lib/systemd/system/multisync-master.service /lib/systemd/system/multisync-worker.service \
    /lib/systemd/system/multisync-nightly.service /lib/systemd/system/multisync-nightly.timer \
    /lib/systemd/system/multisync-failure@.service \
    /usr/lib/sysusers.d/multisync.conf /usr/lib/tmpfiles.d/multisync.conf \
    /usr/share/man/man1/multisync.1.gz /usr/share/man/man5/multisync.ini.5.gz \
    /usr/share/man/man8/multisync-master.8.gz /usr/share/man/man8/multisync-worker.8.gz \
    /usr/share/bash-completion/completions/multisync \
    /usr/share/doc/multisync/examples/master.ini.example \
    /usr/share/doc/multisync/examples/worker.ini.example \
    /usr/share/doc/multisync/README.md.gz /usr/share/doc/multisync/copyright /etc/multisync/; do
    grep -qxF "$f" "$T/contents" || fail "the package lacks $f"
done
# Nothing in /etc but the empty folder: a master.ini there would start the
# master, so the examples stay in /usr/share/doc.
[[ $(grep -c '^/etc/.' "$T/contents") == 1 ]] || fail "the package ships files in /etc: $(grep '^/etc/' "$T/contents")"
dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles 2>/dev/null && fail "the package has conffiles"
grep -q '^ExecStart=/usr/bin/multisync-master ' <(dpkg-deb --fsys-tarfile "$DEB" |
    tar -xO ./lib/systemd/system/multisync-master.service) || fail "the packaged master unit does not run /usr/bin"

note "lintian: no error"
rc=0
lintian --display-info "$DEB" >"$T/lintian.out" 2>&1 || rc=$?
grep -v 'running with root privileges' "$T/lintian.out" | sed 's/^/    /' || true
((rc != 1)) && ! grep -q '^E:' "$T/lintian.out" || fail "lintian reports errors"
((rc == 0)) || fail "lintian did not run (exit $rc)"

note "dpkg installs it into a scratch root, maintainer scripts and all"
host_user=$(getent passwd multisync || true)
R=$T/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/etc"
touch "$R/var/lib/dpkg/status"
# The root has no libraries: --force-depends. Its scripts run here, on the
# root given by DPKG_ROOT: --force-script-chrootless.
dpkg --root="$R" --log=/dev/null --force-script-chrootless --force-depends -i "$DEB" >"$T/dpkg.out" 2>&1 ||
    fail "dpkg -i failed: $(cat "$T/dpkg.out")"
[[ $(dpkg-query --root="$R" -W -f='${Status} ${Version}' multisync) == "install ok installed $VERSION" ]] ||
    fail "dpkg does not list multisync as installed: $(dpkg-query --root="$R" -W multisync 2>&1)"
for prog in multisync multisync-master multisync-worker; do
    out=$("$R/usr/bin/$prog" --version 2>&1) || fail "$prog --version exited $?: $out"
    [[ $out == "$prog $VERSION"* ]] || fail "$prog --version printed: $out"
    echo "    $out"
done
MANWIDTH=80 man -l "$R/usr/share/man/man1/multisync.1.gz" 2>&1 | grep -q '^EXIT STATUS' ||
    fail "the installed multisync(1) does not render"

note "the postinst made the multisync user and its folders, and enabled nothing"
line=$(grep '^multisync:' "$R/etc/passwd") || fail "no multisync user in the root's /etc/passwd"
IFS=: read -r _ _ uid gid _ home _ <<<"$line"
[[ $home == /var/lib/multisync ]] || fail "multisync's home is $home"
[[ $(stat -c '%a %u %g' "$R/var/lib/multisync") == "700 $uid $gid" ]] ||
    fail "/var/lib/multisync is $(stat -c '%a %u %g' "$R/var/lib/multisync"), not 700 multisync"
[[ $(stat -c '%a %u' "$R/run/multisync") == "750 $uid" ]] || fail "/run/multisync is not 0750 multisync"
enabled=$(find "$R/etc/systemd" -name 'multisync*' 2>/dev/null || true)
[[ -z $enabled ]] || fail "the package enabled units: $enabled"
[[ $(getent passwd multisync || true) == "$host_user" ]] || fail "the install changed this host's multisync user"

note "dpkg removes and purges it"
dpkg --root="$R" --log=/dev/null --force-script-chrootless --force-depends -P multisync >"$T/purge.out" 2>&1 ||
    fail "dpkg -P failed: $(cat "$T/purge.out")"
[[ ! -e $R/usr/bin/multisync ]] || fail "dpkg -P left /usr/bin/multisync"
echo "package: ok"
