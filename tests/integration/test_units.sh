#!/usr/bin/env bash
# The systemd units as `make install` installs them: their paths follow
# PREFIX, `systemd-analyze verify` finds nothing to say about them, and
# `systemd-analyze security --offline` rates the master at most 4.0 and the
# worker and the nightly run at most 6.0 (lower is tighter). Also the
# sysusers.d and tmpfiles.d entries, read by the real tools in a scratch
# root: the multisync user, and its folders with their modes.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

command -v systemd-analyze >/dev/null ||
    { echo "SKIP: systemd-analyze missing (deploy/install-deps.sh installs systemd)"; exit 77; }
[[ -d /lib/systemd/system ]] || { echo "SKIP: no /lib/systemd/system to verify against"; exit 77; }

UNITS=(multisync-master.service multisync-worker.service multisync-nightly.service
    multisync-nightly.timer multisync-failure@.service)

note "make install DESTDIR PREFIX=/opt/ms: the units name that PREFIX's programs"
make -s install DESTDIR="$T/opt" PREFIX=/opt/ms >"$T/make1.out" 2>&1 ||
    fail "make install failed: $(cat "$T/make1.out")"
for u in "${UNITS[@]}"; do
    [[ -f $T/opt/etc/systemd/system/$u ]] || fail "make install did not install $u"
done
grep -q '^ExecStart=/opt/ms/bin/multisync-master ' "$T/opt/etc/systemd/system/multisync-master.service" ||
    fail "the master's unit does not run /opt/ms/bin/multisync-master"
grep -q '^ExecStart=/opt/ms/bin/multisync-worker ' "$T/opt/etc/systemd/system/multisync-worker.service" ||
    fail "the worker's unit does not run /opt/ms/bin/multisync-worker"
grep -q '^ExecStart=/opt/ms/lib/multisync/nightly.sh ' "$T/opt/etc/systemd/system/multisync-nightly.service" ||
    fail "the nightly unit does not run /opt/ms/lib/multisync/nightly.sh"
! grep -rn '@[A-Z]*@\|/usr/local' "$T/opt/etc/systemd/system" || fail "a unit keeps a placeholder or /usr/local"
for f in opt/ms/bin/multisync opt/ms/share/man/man1/multisync.1 opt/ms/share/man/man8/multisync-master.8 \
    opt/ms/share/man/man5/multisync.ini.5 opt/ms/share/bash-completion/completions/multisync \
    etc/sysusers.d/multisync.conf etc/tmpfiles.d/multisync.conf; do
    [[ -f $T/opt/$f ]] || fail "make install did not install /$f"
done

# A scratch root for verify: the units installed with PREFIX=/usr, the
# host's own units (targets they depend on) and the programs they call.
R=$T/root
make -s install DESTDIR="$R" PREFIX=/usr >"$T/make2.out" 2>&1 || fail "make install failed: $(cat "$T/make2.out")"
mkdir -p "$R/lib/systemd" "$R/bin"
cp -a /lib/systemd/system "$R/lib/systemd/"
cp /bin/kill /bin/echo "$R/bin/"

note "systemd-analyze verify: nothing to say (Documentation= man pages found too)"
verify() {
    (cd "$R" && MANPATH=$R/usr/share/man systemd-analyze verify --root="$R" "$@") >"$T/verify.out" 2>&1
    local rc=$?
    ((rc == 0)) && [[ ! -s $T/verify.out ]]
}
verify "${UNITS[@]/multisync-failure@.service/multisync-failure@multisync-nightly.service.service}" ||
    fail "systemd-analyze verify: $(cat "$T/verify.out")"
# verify must be able to fail: a unit with an unknown key is found out.
cp "$R/etc/systemd/system/multisync-worker.service" "$T/worker.good"
sed -i 's/^NoNewPrivileges=yes/&\nProtectEverything=yes/' "$R/etc/systemd/system/multisync-worker.service"
! verify multisync-worker.service || fail "systemd-analyze verify did not see an unknown key"
cp "$T/worker.good" "$R/etc/systemd/system/multisync-worker.service"

note "systemd-analyze security --offline: master <= 4.0, worker and nightly <= 6.0"
# --threshold counts tenths: 40 is an exposure of 4.0.
security() { # UNIT THRESHOLD
    (cd "$R" && systemd-analyze security --offline=true --root="$R" --threshold="$2" "$1") >"$T/sec.out" 2>&1
    local rc=$?
    echo "    $(grep 'Overall exposure' "$T/sec.out")"
    return $rc
}
security multisync-master.service 40 || fail "the master is too exposed: $(tail -30 "$T/sec.out")"
security multisync-worker.service 60 || fail "the worker is too exposed: $(tail -30 "$T/sec.out")"
security multisync-nightly.service 60 || fail "the nightly run is too exposed: $(tail -30 "$T/sec.out")"
# The threshold must be able to fail: the master without its hardening.
sed -i '/^# Hardening/,$d' "$R/etc/systemd/system/multisync-master.service"
echo "[Install]" >>"$R/etc/systemd/system/multisync-master.service"
! security multisync-master.service 40 >/dev/null || fail "the threshold passed an unhardened master"

note "nothing starts before it is configured; the nightly run has a timeout and OnFailure"
for u in multisync-master.service multisync-nightly.service multisync-nightly.timer; do
    grep -qx 'ConditionPathExists=/etc/multisync/master.ini' "$T/opt/etc/systemd/system/$u" ||
        fail "$u starts without /etc/multisync/master.ini"
done
grep -qx 'ConditionPathExists=/etc/multisync/worker.ini' "$T/opt/etc/systemd/system/multisync-worker.service" ||
    fail "the worker starts without /etc/multisync/worker.ini"
grep -qE '^TimeoutStartSec=[1-9]' "$T/opt/etc/systemd/system/multisync-nightly.service" ||
    fail "the nightly run has no TimeoutStartSec="
grep -qx 'OnFailure=multisync-failure@%n.service' "$T/opt/etc/systemd/system/multisync-nightly.service" ||
    fail "the nightly run has no OnFailure="

note "the nightly script stops on the service's SIGINT: the run is cancelled, no further set starts"
# A stand-in for `multisync run --master` that waits until interrupted, as
# the real client does while its run goes (Ctrl-C cancels the run).
mkdir -p "$T/fake" "$T/logs"
cat >"$T/fake/multisync" <<'EOF_FAKE'
#!/bin/sh
echo "run ${*##* }" >>"$LOGS_DIRECTORY/calls"
trap 'echo interrupted >>"$LOGS_DIRECTORY/calls"; kill $! 2>/dev/null; exit 130' INT
sleep 60 &
wait
EOF_FAKE
chmod +x "$T/fake/multisync"
printf '[master]\ncontrol = ipc:///nowhere\n[set one]\nsource = /a\n[set two]\nsource = /b\n' >"$T/nightly.ini"
# env --default-signal: a background job of a script starts with SIGINT ignored.
start_bg "$T/nightly.out" env --default-signal=INT PATH="$T/fake:$PATH" LOGS_DIRECTORY="$T/logs" \
    deploy/nightly.sh "$T/nightly.ini"
nightly=$LAST_PID
wait_until 20 "the first set's run" grep -qs '^run one$' "$T/logs/calls"
# systemd signals every process of the unit.
kill -INT "$nightly" $(pgrep -P "$nightly")
wait_exit 20 "$nightly" "nightly.sh"
((RC == 130)) || fail "nightly.sh exited $RC after SIGINT, not 130: $(cat "$T/nightly.out")"
grep -q '^interrupted$' "$T/logs/calls" || fail "the run of set one was not interrupted"
! grep -q '^run two$' "$T/logs/calls" || fail "nightly.sh started set two after SIGINT"

note "sysusers.d and tmpfiles.d: the multisync user and its folders"
if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
    S=$T/sys
    mkdir -p "$S/etc"
    systemd-sysusers --root="$S" "$R/etc/sysusers.d/multisync.conf" >"$T/sysusers.out" 2>&1 ||
        fail "systemd-sysusers: $(cat "$T/sysusers.out")"
    line=$(grep '^multisync:' "$S/etc/passwd") || fail "systemd-sysusers made no multisync user"
    IFS=: read -r _ _ uid gid _ home shell <<<"$line"
    ((uid > 0 && uid < 1000)) || fail "multisync is not a system user (uid $uid)"
    grep -q "^multisync:x:$gid:" "$S/etc/group" || fail "multisync has no group of its own"
    [[ $home == /var/lib/multisync ]] || fail "multisync's home is $home"
    [[ $shell == */nologin ]] || fail "multisync may log in (shell $shell)"
    # A folder made by hand (mkdir: 0755) is set back to the mode it needs.
    mkdir -p "$S/run/multisync" && chmod 0755 "$S/run/multisync"
    systemd-tmpfiles --root="$S" --create "$R/etc/tmpfiles.d/multisync.conf" >"$T/tmpfiles.out" 2>&1 ||
        fail "systemd-tmpfiles: $(cat "$T/tmpfiles.out")"
    for want in "var/lib/multisync 700" "var/log/multisync 750" "run/multisync 750"; do
        set -- $want
        got=$(stat -c '%a %u %g' "$S/$1") || fail "systemd-tmpfiles did not make /$1"
        [[ $got == "$2 $uid $gid" ]] || fail "/$1 is '$got' (mode uid gid), not '$2 $uid $gid'"
    done
else
    note "no systemd-sysusers/systemd-tmpfiles here: their entries not checked"
fi
echo "units: ok"
