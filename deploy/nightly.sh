#!/bin/sh
# Run every [set NAME] of the master's config through the running master,
# one after the other, and keep each report in /var/log/multisync.
# Usage: nightly.sh /etc/multisync/master.ini
# MULTISYNC_OPTS: extra options for `multisync run`, e.g. for a tcp://
# control endpoint "--key /etc/multisync/admin.key --master-key
# /etc/multisync/master.pub" (no spaces inside paths).
# Exit status: the worst of the sets' (multisync(1): 1 a task failed, 2
# usage or configuration, 3 master unreachable, 4 run refused); 130 at once
# when interrupted.
# SIGINT or SIGTERM (the service's timeout, systemctl stop) reach the
# running `multisync run` too, which cancels its run; no further set starts.
set -u
conf=${1:-/etc/multisync/master.ini}
control=$(sed -n 's/^[[:space:]]*control[[:space:]]*=[[:space:]]*//p' "$conf" | head -n 1)
logdir=${LOGS_DIRECTORY:-/var/log/multisync}
if [ -z "$control" ]; then
    echo "nightly: no control endpoint in $conf" >&2
    exit 2
fi
status=0
stop=0
trap 'stop=1' INT TERM
# One set name per line, read as is: a name with spaces or '*' stays one name.
sets=$(sed -n 's/^[[:space:]]*\[set[[:space:]]\{1,\}\([^]]*\)\].*/\1/p' "$conf")
while IFS= read -r set; do
    [ -n "$set" ] || continue
    [ "$stop" -eq 0 ] || break
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    echo "nightly: set $set"
    rc=0
    # shellcheck disable=SC2086
    multisync run --master "$control" ${MULTISYNC_OPTS:-} --report "$logdir/$set-$stamp.json" "$set" </dev/null || rc=$?
    if [ "$rc" -eq 130 ]; then # stopped (systemd's timeout, Ctrl-C): no more sets
        echo "nightly: interrupted during set $set" >&2
        exit 130
    fi
    [ "$rc" -le "$status" ] || status=$rc
done <<EOF_SETS
$sets
EOF_SETS
[ "$stop" -eq 0 ] || exit 130
exit $status
