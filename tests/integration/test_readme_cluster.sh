#!/usr/bin/env bash
# The README's "## A cluster" section runs as written. Its ```sh block is
# read from README.md and every command run as it stands, with only the
# mechanical substitutions printed below, on three hosts made of network
# namespaces (the master, hostA, hostB: each its own address on a bridge):
#   - a "# on the master host" command runs on the master, a "# on every
#     worker host" one on hostA, then on hostB with hostA -> hostB;
#   - each host's /etc/multisync, /var/lib/multisync and /run/multisync are
#     its own folders under $T; /data/prod and /backup/prod are shared (the
#     README's shared mount);
#   - `scp X backup-master:P` / `scp backup-master:P X` copy to / from the
#     master's folders (one disk stands in for ssh); backup-master is the
#     master's address; bin/ is the built programs;
#   - the daemons (bin/multisync-master, bin/multisync-worker) run in the
#     background; the test goes on once the master listens and once each
#     worker logs that it is connected.
# Then again from the master command on, with each "# or:" form (the
# configuration files, written from the section's ```ini blocks) instead of
# the command above it. If a command of the README stops working, this
# test fails.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/netns.sh"
netns_setup

README=$ROOT/README.md
WORKERS=(hostA hostB)

# The section, from its heading to the next "## " heading.
awk '/^## A cluster$/ {on = 1; next} on && /^## / {exit} on' "$README" >"$T/section.md"
[[ -s $T/section.md ]] || fail "README.md has no '## A cluster' section"

# Its ```sh blocks, continuation lines joined: one command or comment a line.
awk '/^```sh$/ {on = 1; next} /^```/ {on = 0} on' "$T/section.md" |
    sed -e ':a' -e '/\\$/N; s/\\\n *//; ta' >"$T/readme.sh"
grep -q '^bin/multisync-master ' "$T/readme.sh" || fail "no master command in the README's cluster section"

# Steps: KIND (master or workers, from the latest "# on ..." comment), the
# command, and its "# or:" form when the next line gives one.
KIND=() CMD=() ALT=()
kind=""
while IFS= read -r line; do
    case $line in
    "# on the master host"*) kind=master ;;
    "# on every worker host"*) kind=workers ;;
    "# or: "*)
        ((${#CMD[@]})) || fail "'$line' follows no command"
        ALT[${#CMD[@]} - 1]=${line#\# or: }
        ;;
    "#"* | "") ;;
    *)
        [[ -n $kind ]] || fail "README command '$line' does not say which host it runs on"
        KIND+=("$kind") CMD+=("$line") ALT+=("")
        ;;
    esac
done <"$T/readme.sh"
note "${#CMD[@]} commands in the README's cluster section"

make_host master "$NET.10/24"
make_host hostA "$NET.11/24"
make_host hostB "$NET.12/24"
MIP=$NET.10
for h in master "${WORKERS[@]}"; do mkdir -p "$T/$h"; done
gen_tree "$T/data/prod"
cat <<EOF
--- substitutions (on host H):
    bin/                                  -> $BIN/
    /etc/multisync, /var/lib/multisync,
    /run/multisync                        -> $T/H/...
    /data/prod, /backup/prod              -> $T/data/prod, $T/backup/prod
    scp ... backup-master:/PATH           -> cp ... $T/master/PATH
    backup-master                         -> $MIP (the master host's address)
    hostA (on hostB)                      -> hostB
EOF

# subst HOST TEXT : TEXT as it runs on HOST.
subst() {
    local host=$1 c=$2
    [[ $c == "scp "* ]] && c="cp ${c#scp }"
    c=${c//backup-master:\//@MASTER@} # without its /: no other rule takes the path
    c=$(sed -E "s#(^|[ ])bin/#\\1$BIN/#g" <<<"$c")
    c=${c//\/etc\/multisync/$T/$host/etc/multisync}
    c=${c//\/var\/lib\/multisync/$T/$host/var/lib/multisync}
    c=${c//\/run\/multisync/$T/$host/run/multisync}
    c=${c//\/data\/prod/$T/data/prod}
    c=${c//\/backup\/prod/$T/backup/prod}
    c=${c//@MASTER@/$T/master/}
    c=${c//backup-master/$MIP}
    [[ $host == hostA || $host == master ]] || c=${c//hostA/$host}
    printf '%s' "$c"
}

hosts_of() { if [[ $1 == master ]]; then echo master; else echo "${WORKERS[@]}"; fi; }

declare -A DAEMON=()
N=0
# run_step HOST COMMAND : one README command on HOST, as written after subst.
run_step() {
    local host=$1 cmd log
    cmd=$(subst "$host" "$2")
    N=$((N + 1))
    echo "[$host] \$ $2"
    [[ $cmd == "$2" ]] || echo "         ran as: $cmd"
    case $cmd in
    "$BIN/multisync-master "* | "$BIN/multisync-worker "*)
        log=$T/$host.$(basename "${cmd%% *}").$PASS.log
        start_bg "$log" $(host_exec "$host") bash -c "exec $cmd"
        DAEMON[$host]=$LAST_PID
        started "$host" "$log"
        ;;
    *)
        in_host "$host" bash -c "$cmd" >"$T/out.$N" 2>&1 ||
            fail "README command on $host failed (exit $?): $2
$(cat "$T/out.$N")"
        sed 's/^/    /' "$T/out.$N"
        ;;
    esac
}

# started HOST LOG : wait until the daemon just started on HOST is ready:
# the master listens, a worker says the master took it.
started() {
    local host=$1 log=$2 pid=${DAEMON[$1]} want
    if [[ $host == master ]]; then
        want="listening for workers on"
    else
        want="connected to tcp://$MIP:5555 as $host ([0-9]* slots)"
    fi
    wait_until 20 "'$want' in $log" daemon_says "$pid" "$log" "$want"
    grep "$want" "$log" | sed 's/^/    /'
}
daemon_says() {
    kill -0 "$1" 2>/dev/null || fail "the daemon died: $(cat "$2")"
    grep -q "$3" "$2"
}

# run_all FIRST USE_ALT : the steps from FIRST on; with USE_ALT, a step's
# "# or:" form instead of it.
run_all() {
    local i h cmd
    for ((i = $1; i < ${#CMD[@]}; i++)); do
        cmd=${CMD[i]}
        [[ $2 == 1 && -n ${ALT[i]} ]] && cmd=${ALT[i]}
        for h in $(hosts_of "${KIND[i]}"); do run_step "$h" "$cmd"; done
    done
}

stop_daemons() {
    local h
    for h in "${WORKERS[@]}" master; do
        kill "${DAEMON[$h]}" 2>/dev/null || true
        wait "${DAEMON[$h]}" 2>/dev/null || true
    done
}

mode_is() { [[ $(stat -c %a "$1") == "$2" ]] || fail "$1 is mode $(stat -c %a "$1"), not $2"; }

# Status's and run's outputs name both workers.
outputs_name_workers() {
    local h
    for h in "${WORKERS[@]}"; do
        grep -q "$h" "$T/out.$N" || fail "the status printed does not show $h: $(cat "$T/out.$N")"
    done
}

note "pass 1: the commands as written"
PASS=1
run_all 0 0
same_tree "$T/data/prod" "$T/backup/prod"
outputs_name_workers
mode_is "$T/master/etc/multisync/master.key" 600
mode_is "$T/master/var/lib/multisync" 700
mode_is "$T/master/run/multisync" 750
mode_is "$T/master/run/multisync/control.sock" 660
[[ $(stat -c %u "$T/master/var/lib/multisync") == $(id -u) ]] || fail "the catalog's folder is not the master's user's"
grep -q "created the catalog's folder $T/master/var/lib/multisync (mode 0700)" "$T/master.multisync-master.1.log" ||
    fail "the master did not say it made its state folder: $(cat "$T/master.multisync-master.1.log")"
grep -q "created the socket folder $T/master/run/multisync (mode 0750)" "$T/master.multisync-master.1.log" ||
    fail "the master did not say it made its socket folder"
for h in "${WORKERS[@]}"; do
    [[ -f $T/master/etc/multisync/authorized/$h.pub && -f $T/$h/etc/multisync/master.pub ]] ||
        fail "the README's copies left $h's key or the master's key out"
done

note "pass 2: from the master command on, each '# or:' form (the configuration files)"
stop_daemons
awk '/^```ini$/ {n++; on = 1; next} /^```/ {on = 0} on {print > (dir "/ini." n)}' dir="$T" "$T/section.md"
for f in "$T"/ini.*; do
    first=$(head -1 "$f")
    case $first in
    *"on the master host"*) kind=master ;;
    *"on every worker host"*) kind=workers ;;
    *) fail "the README's ini block '$first' does not say which host it is for" ;;
    esac
    path=$(sed -E 's/^; (\/[^ ,]*).*/\1/' <<<"$first")
    for h in $(hosts_of "$kind"); do
        echo "[$h] $path:"
        subst "$h" "$(cat "$f")" >"$(subst "$h" "$path")"
        echo >>"$(subst "$h" "$path")"
        sed 's/^/    /' "$(subst "$h" "$path")"
    done
done
make_file "$T/data/prod/new-project/data.bin" 70000
echo more >>"$T/data/prod/alpha/f2.bin"
PASS=2
first=0
while [[ ${CMD[first]} != "bin/multisync-master "* ]]; do first=$((first + 1)); done
run_all "$first" 1
same_tree "$T/data/prod" "$T/backup/prod"
outputs_name_workers
in_host master "$BIN/multisync" history --json --master "ipc://$T/master/run/multisync/control.sock" >"$T/history.json"
jq_check "$T/history.json" '.[0].set == "nightly" and .[0].status == "ok" and .[1].status == "ok"' \
    "the second pass ran the set nightly, both runs ok"
echo ok
