#!/usr/bin/env bash
# Raw side of the pause_pod benchmark, run on the node: ssh NODE bash -s -- ACTION < pause_pod.sh
#   setup/cleanup  the network bmp-net, /etc/cni/net.d/20-bmp-net.conf (not timed)
#   up    the commands the module replaces: ip netns add, a pause process in it, the bridge plugin's ADD
#   down  stop the pod's processes, DEL, remove the namespace, the CNI bridge and address
#         reservations, forwarding back off; fail if anything is left
set -euo pipefail
conf=/etc/cni/net.d/20-bmp-net.conf
cni=/usr/lib/cni
cni_env=(CNI_CONTAINERID=bmp-pod CNI_NETNS=/run/netns/bmp-pod CNI_IFNAME=eth10 "CNI_PATH=$cni")
case $1 in
setup)
    mkdir -p /etc/cni/net.d
    cat > "$conf" <<'CONF'
{"cniVersion": "1.0.0", "name": "bmp-net", "type": "bridge", "bridge": "bmp-br0", "isGateway": true, "ipMasq": true,
 "ipam": {"type": "host-local", "subnet": "10.99.3.0/24", "routes": [{"dst": "0.0.0.0/0"}]}}
CONF
    ;;
cleanup)
    rm -f "$conf"
    ;;
up)
    ip netns add bmp-pod
    ip netns exec bmp-pod setsid -f sleep infinity </dev/null >/dev/null 2>&1
    env CNI_COMMAND=ADD "${cni_env[@]}" $cni/bridge < "$conf" > /dev/null
    ;;
down)
    for pid in $(ip netns pids bmp-pod 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    env CNI_COMMAND=DEL "${cni_env[@]}" $cni/bridge < "$conf" > /dev/null 2>&1 || true
    ip netns del bmp-pod 2>/dev/null || true
    ip link del bmp-br0 2>/dev/null || true
    rm -rf /var/lib/cni/networks/bmp-net /var/lib/cni/results/bmp-net-* /run/podnet/pods/bmp-pod
    rm -f /run/podnet/pause.py  # the module writes its pause program on first use: every run is a first
    sysctl -qw net.ipv4.ip_forward=0
    left=""
    ip netns list | grep -q '^bmp-pod' && left+=" netns"
    ip link show bmp-br0 >/dev/null 2>&1 && left+=" bridge"
    iptables-save -t nat | grep -q 'bmp-net\|CNI-' && left+=" iptables"
    if [ -n "$left" ]; then echo "pod left:$left" >&2; exit 1; fi
    ;;
*) echo "unknown action $1" >&2; exit 64 ;;
esac
