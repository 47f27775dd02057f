#!/usr/bin/env bash
# The raw side of bench/scale.sh, run on the node in ONE ssh call:
#   ssh NODE bash -s -- ACTION N < bench/scale/raw.sh
#   up N      per pod: ip netns add, loopback up, a pause process (sleep) in the
#             namespace, the bridge plugin's ADD with the network's file (its
#             result kept, as the module keeps libcni's cache)
#   rerun N   what a loop can check per pod: namespace, pause process, result
#   down N    per pod: the plugin's DEL, the pause process killed (by its PID),
#             the namespace deleted
#   check     fails unless the pods of all three ways are gone: namespaces
#             (rw-*, sc-*, nv-*), address reservations, cached results, records
#   down_any  removes whatever pods of the three ways a failed run left: DEL,
#             the processes in their namespace, the namespace, the records
#   clean     removes what the ways share once all pods are gone: the bridge, the
#             reservation directory; fails if pods were left
# Raw pods are named rw-0 ... rw-(N-1); every way uses the same network file.
set -euo pipefail
conf=/etc/cni/net.d/10-scale.conf
cni=/usr/lib/cni
state=/run/scale-raw
n=${2:-0}
export CNI_PATH=$cni CNI_IFNAME=eth0
case $1 in
up)
    mkdir -p "$state"
    for ((i = 0; i < n; i++)); do
        ns=rw-$i
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        # Not a process group leader, so setsid execs in place: $! is the sleep.
        ip netns exec "$ns" setsid sleep infinity < /dev/null > /dev/null 2>&1 &
        echo $! > "$state/$ns.pid"
        CNI_COMMAND=ADD CNI_CONTAINERID=$ns CNI_NETNS=/run/netns/$ns $cni/bridge < "$conf" > "$state/$ns.json"
    done
    ;;
rerun)
    for ((i = 0; i < n; i++)); do
        ns=rw-$i
        if [[ ! -e /run/netns/$ns || ! -s $state/$ns.json ]] || ! kill -0 "$(< "$state/$ns.pid")"; then
            echo "pod $ns is not whole" >&2
            exit 1
        fi
    done
    ;;
down)
    for ((i = 0; i < n; i++)); do
        ns=rw-$i
        CNI_COMMAND=DEL CNI_CONTAINERID=$ns CNI_NETNS=/run/netns/$ns $cni/bridge < "$conf"
        kill "$(< "$state/$ns.pid")"
        ip netns delete "$ns"
        rm -f "$state/$ns.pid" "$state/$ns.json"
    done
    ;;
check)
    left=$(ip netns list | awk '$1 ~ /^(rw|nv|sc)-[0-9]+$/ { print $1 }')
    left+=$(find /var/lib/cni/networks/scale -regex '.*/[0-9.]+' -printf ' reservation:%f' 2> /dev/null || true)
    left+=$(find /var/lib/cni/results -name 'scale-*' -printf ' cache:%f' 2> /dev/null || true)
    left+=$(find /run/podnet/pods /run/scale-raw /run/scale-naive -mindepth 1 -maxdepth 1 -printf ' %p' 2> /dev/null || true)
    if [[ -n $left ]]; then echo "left on the node: ${left//$'\n'/ }" >&2; exit 1; fi
    ;;
down_any)
    for ns in $(ip netns list | awk '$1 ~ /^(rw|nv|sc)-[0-9]+$/ { print $1 }'); do
        CNI_COMMAND=DEL CNI_CONTAINERID=$ns CNI_NETNS=/run/netns/$ns $cni/bridge < "$conf" || true
        for pid in $(ip netns pids "$ns"); do kill -KILL "$pid" || true; done
        ip netns delete "$ns"
    done
    rm -rf /run/podnet/pods/sc-* /var/lib/cni/results/scale-* "$state" /run/scale-naive
    ;;
clean)
    left=$(ip netns list | awk '$1 ~ /^(rw|nv|sc)-[0-9]+$/ { print $1 }')
    ip link del scale0 2> /dev/null || true
    rm -rf /var/lib/cni/networks/scale /var/lib/cni/results/scale-* "$state" /run/scale-naive
    if [[ -n $left ]]; then echo "pods left: ${left//$'\n'/ }" >&2; exit 1; fi
    if iptables-save -t nat | grep -q 'CNI-'; then echo "CNI rules left in nat" >&2; exit 1; fi
    ;;
*) echo "unknown action $1" >&2; exit 64 ;;
esac
