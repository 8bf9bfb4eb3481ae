# Hosts as network namespaces, for tests that need a master and workers on
# separate "machines" whose links can be cut. Source it after lib.sh:
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/netns.sh"
#   netns_setup                     # skips the test (exit 0) without root/netns
#   make_host w1 "$NET.11/24"       # namespace ms$$-w1, address 198.18.N.11
#   in_host w1 ip addr              # run a command there
#   start_bg "$T/x.log" $(host_exec w1) CMD...   # a daemon there
#   link_down w1; link_up w1        # cut / restore w1's cable
# and, for a multisync cluster (CURVE keys made for each host):
#   start_master; start_worker w1 SLOTS [OPTIONS]; wait_hosts 1
#   "$BIN/multisync" run --master "$CTL" "${CLIENT_OPTS[@]}" SRC DST
#
# Topology: a bridge in the root namespace holding $MASTER_IP (198.18.N.1/24,
# in 198.18.0.0/15, the RFC 2544 benchmark range; N is 0 unless another test
# run holds that subnet), one veth pair per host with its root end on the
# bridge. The namespaces get no default route and forwarding is not touched:
# traffic only flows between the addresses created here. The filesystem is
# shared, so sources and destinations are ordinary paths under $T.
#
# Everything (processes left in the namespaces, namespaces, veths, bridge) is
# removed at exit, also when the test fails, through lib.sh's at_exit hooks.

NS_TAG=$$               # unique per test process
NS_BRIDGE="msbr$NS_TAG" # <= 11 characters
NS_HOSTS=()             # host names made by make_host
NS_VETHS=()             # root ends of their veths
declare -A NS_VETH_OF=()
NET=""                  # first three octets of the test subnet, e.g. 198.18.0
MASTER_IP=""            # the bridge's address: where the master listens
NS_LOCK=/tmp/multisync-netns.lock

netns_skip() {
    echo "SKIP: needs root and ip netns ($*)"
    exit 77 # run-tests.sh counts it as skipped
}

# ns_name NAME : the namespace of host NAME.
ns_name() { echo "ms$NS_TAG-$1"; }

# Choose a /24 of 198.18.0.0/16 that no address or route of this machine
# touches (the default route aside), and put the bridge's address in it,
# under a lock so that concurrent test runs take different ones.
netns_pick_subnet() {
    local x used
    exec {lockfd}>"$NS_LOCK"
    flock -w 30 "$lockfd" || fail "cannot lock $NS_LOCK"
    used=$(ip -o -4 addr show | awk '{print $4}')
    for x in $(seq 0 255); do
        grep -q "^198\.18\.$x\." <<<"$used" && continue
        [[ -z $(ip -4 route show table all match "198.18.$x.0/24" 2>/dev/null |
            grep -v '^default\|^broadcast\|^local 127\.\|^unreachable default') ]] || continue
        NET=198.18.$x
        break
    done
    [[ -n $NET ]] || { flock -u "$lockfd"; fail "no free /24 in 198.18.0.0/16"; }
    MASTER_IP=$NET.1
    ip addr add "$MASTER_IP/24" dev "$NS_BRIDGE" || { flock -u "$lockfd"; fail "cannot add $MASTER_IP to $NS_BRIDGE"; }
    flock -u "$lockfd"
    exec {lockfd}>&-
}

# netns_setup : check root and ip netns (else SKIP), create the bridge.
netns_setup() {
    [[ $(id -u) == 0 ]] || netns_skip "not root"
    command -v ip >/dev/null || netns_skip "no ip command"
    local probe
    probe=$(ns_name probe)
    ip netns add "$probe" 2>/dev/null || netns_skip "ip netns add failed"
    if ! ip netns exec "$probe" ip link set lo up 2>/dev/null; then
        ip netns del "$probe" 2>/dev/null || true
        netns_skip "ip netns exec failed"
    fi
    ip netns del "$probe"
    at_exit netns_cleanup
    ip link add "$NS_BRIDGE" type bridge || fail "cannot create bridge $NS_BRIDGE"
    ip link set "$NS_BRIDGE" up || fail "cannot bring $NS_BRIDGE up"
    netns_pick_subnet
    note "bridge $NS_BRIDGE with $MASTER_IP/24"
}

# make_host NAME IP/PREFIX : namespace ms$$-NAME with lo up and a veth whose
# inside end has IP and whose root end is on the bridge.
make_host() {
    local name=$1 ip=$2 ns idx outer inner
    ns=$(ns_name "$name")
    idx=${#NS_HOSTS[@]}
    outer="msv${NS_TAG}h$idx" # <= 15 characters
    inner="msi${NS_TAG}h$idx"
    ip netns add "$ns" || fail "cannot create namespace $ns"
    NS_HOSTS+=("$name")
    host_key "$name"
    ip link add "$outer" type veth peer name "$inner" || fail "cannot create veth $outer"
    NS_VETHS+=("$outer")
    NS_VETH_OF[$name]=$outer
    ip link set "$inner" netns "$ns" || fail "cannot move $inner into $ns"
    ip link set "$outer" master "$NS_BRIDGE" || fail "cannot attach $outer to $NS_BRIDGE"
    ip link set "$outer" up
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip addr add "$ip" dev "$inner" || fail "cannot add $ip in $ns"
    ip netns exec "$ns" ip link set "$inner" up
    local i
    for i in $(seq 1 50); do # the bridge port needs a moment to forward (3)
        [[ $(cat "/sys/class/net/$outer/brport/state" 2>/dev/null) == 3 &&
            $(ip netns exec "$ns" cat "/sys/class/net/$inner/operstate") == up ]] && return 0
        sleep 0.1
    done
    fail "host $name ($ip): link $outer does not come up"
}

# in_host NAME CMD... : run CMD inside host NAME (ip netns exec execs it, so
# a background in_host's pid is CMD's pid).
in_host() {
    local ns
    ns=$(ns_name "$1")
    shift
    ip netns exec "$ns" "$@"
}

# host_exec NAME : the words that run a command in host NAME, for start_bg:
#   start_bg LOG $(host_exec w1) CMD...   (the pid recorded is CMD's own)
host_exec() { echo "ip netns exec $(ns_name "$1")"; }

# host_pids NAME : pids of the processes living in host NAME.
host_pids() { ip netns pids "$(ns_name "$1")" 2>/dev/null || true; }

# link_down NAME / link_up NAME : unplug / replug host NAME's cable (the root
# end of its veth). Established TCP connections see silence, not a reset.
link_down() { ip link set "${NS_VETH_OF[$1]}" down || fail "cannot bring ${NS_VETH_OF[$1]} down"; }
link_up() { ip link set "${NS_VETH_OF[$1]}" up || fail "cannot bring ${NS_VETH_OF[$1]} up"; }

# Kill what still runs in our namespaces (only processes this test started
# live there), then delete namespaces, veths and the bridge.
netns_cleanup() {
    local name ns pid v i
    for name in "${NS_HOSTS[@]}"; do
        ns=$(ns_name "$name")
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -CONT "$pid" 2>/dev/null || true; done
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    done
    for name in "${NS_HOSTS[@]}"; do
        ns=$(ns_name "$name")
        for i in $(seq 1 20); do [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] && break; sleep 0.1; done
    done
    for v in "${NS_VETHS[@]}"; do ip link del "$v" 2>/dev/null || true; done
    for name in "${NS_HOSTS[@]}"; do ip netns del "$(ns_name "$name")" 2>/dev/null || true; done
    ip link del "$NS_BRIDGE" 2>/dev/null || true
}

# --- a cluster over the namespaces --------------------------------------------
#
# CURVE on every tcp:// socket, as in production: keys in $T/keys (the master,
# an admin for the control endpoint, one per host: a worker's host name is its
# key's name), workers authorised by $T/keys/authorized.

# Short heartbeats: a worker is declared dead ~0.6 s after it falls silent.
HB_MS=${HB_MS:-200}
CLIENT_OPTS=() # what `multisync run/status` needs to talk to the master

cluster_keys() {
    [[ -f $T/keys/master.key ]] && return 0
    make_keys "$T/keys" master admin
    mkdir -p "$T/keys/authorized" "$T/keys/admins"
    cp "$T/keys/admin.pub" "$T/keys/admins/"
    CLIENT_OPTS=(--key "$T/keys/admin.key" --master-key "$T/keys/master.pub")
}

# host_key NAME : the key pair of host NAME, authorised (the master reads
# the folder when it starts: make hosts first).
host_key() {
    cluster_keys
    [[ -f $T/keys/$1.key ]] || make_keys "$T/keys" "$1"
    cp "$T/keys/$1.pub" "$T/keys/authorized/"
}

# start_master [OPTIONS...] : multisync-master in the root namespace listening
# for workers on $MASTER_IP:$WPORT (chosen once), control on 127.0.0.1:$CPORT,
# catalog $T/catalog.db. Sets MASTER_PID, CTL, WORKER_EP. Log: $T/master.log
# (appended to, so a restarted master continues it).
start_master() {
    cluster_keys
    if [[ -z ${WPORT:-} ]]; then
        WPORT=$(free_port)
        CPORT=$(free_port)
        while [[ $CPORT == "$WPORT" ]]; do CPORT=$(free_port); done
    fi
    CTL=tcp://127.0.0.1:$CPORT
    WORKER_EP=tcp://$MASTER_IP:$WPORT
    "$BIN/multisync-master" --listen "$WORKER_EP" --control "$CTL" --catalog "$T/catalog.db" \
        --key "$T/keys/master.key" --authorized "$T/keys/authorized" --admin-keys "$T/keys/admins" \
        --heartbeat-ms "$HB_MS" "$@" >>"$T/master.log" 2>&1 &
    BG_PIDS+=($!)
    MASTER_PID=$!
    wait_master
}

# wait_master : until the master answers status.
wait_master() {
    local i
    for i in $(seq 1 100); do
        kill -0 "$MASTER_PID" 2>/dev/null || fail "the master died: $(tail -5 "$T/master.log")"
        "$BIN/multisync" status --master "$CTL" --json "${CLIENT_OPTS[@]}" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "the master does not answer on $CTL"
}

# start_worker HOST SLOTS [OPTIONS...] : a worker inside host HOST with the
# key HOST, log $T/HOST.log; its pid in WPID[HOST].
declare -A WPID=()
start_worker() {
    local host=$1 slots=$2
    shift 2
    host_key "$host"
    start_bg "$T/$host.log" $(host_exec "$host") "$BIN/multisync-worker" --master "$WORKER_EP" \
        --key "$T/keys/$host.key" --master-key "$T/keys/master.pub" \
        --slots "$slots" --name "$host" --heartbeat-ms "$HB_MS" --drain-timeout 1 "$@"
    WPID[$host]=$LAST_PID
}

# ms_client ARGS... : `multisync ARGS` as the admin (run, status).
ms_client() { "$BIN/multisync" "$@" "${CLIENT_OPTS[@]}"; }

# wait_hosts N : until the master sees N workers.
wait_hosts() { wait_workers "$CTL" "$1" "${CLIENT_OPTS[@]}"; }

# status_json : the master's status, or nothing when it does not answer.
status_json() { ms_client status --master "$CTL" --json 2>/dev/null || true; }

# running_tasks : "PROJECT HOST" for each task the master has in flight now.
# (Reads either form of the status: a top-level "running" list, or per-run
# task lists.)
running_tasks() {
    status_json | jq -r '
        ((.running? // [])[] | [.project, .host]),
        ((.runs? // [])[] | select(.status? == "running") | (.tasks? // [])
         | if type == "array" then .[] else empty end
         | select(.status == "running") | [.project, .host])
        | @tsv' 2>/dev/null || true
}

# running_on HOST : projects in flight on HOST now.
running_on() { running_tasks | awk -F'\t' -v h="$1" '$2 == h {print $1}'; }

# done_in_log RUN : projects the master logged as finished ok in run RUN.
done_in_log() { sed -n "s/^.*\\[info\\]: run $1: \\(.*\\) ok on .* (attempt [0-9]*).*$/\\1/p" "$T/master.log"; }

# diagnose : what the master thinks (called when a run does not end).
diagnose() {
    echo "--- master status:"
    status_json | jq -c 'del(.. | .diagnosis?)' 2>/dev/null | cut -c1-3000
    echo "--- master log (end):"
    tail -n 15 "$T/master.log"
}
