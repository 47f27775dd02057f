#!/usr/bin/env bash
# Tear down what tutorial_up.sh built, with the tutorial's kind of commands.
set -uo pipefail
cni=/usr/lib/cni
for ns in pause_demo pause_peer web; do
    for pid in $(ip netns pids $ns 2>/dev/null); do kill "$pid"; done
done
for pod in pause_demo:00-demo.conf pause_peer:10-demo-peer.conf; do
    CNI_COMMAND=DEL CNI_CONTAINERID=${pod%%:*} CNI_NETNS=/var/run/netns/${pod%%:*} CNI_IFNAME=eth10 CNI_PATH=$cni \
        $cni/bridge < /etc/cni/net.d/${pod#*:} > /dev/null
done
rm -f /etc/cni/net.d/00-demo.conf /etc/cni/net.d/10-demo-peer.conf
rm -rf /var/lib/cni/networks/demo_br /var/lib/cni/networks/demo_peer
iptables -t nat -D PREROUTING -p tcp --dport 80 -m addrtype --dst-type LOCAL -j DNAT --to-destination 172.18.0.3:80
iptables -t nat -D OUTPUT -p tcp --dport 80 -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j DNAT --to-destination 172.18.0.3:80
iptables -t nat -D POSTROUTING -s 172.30.0.0/24 ! -o bridge1 -j MASQUERADE
for ns in pause_demo pause_peer web client1 server1 client server; do ip netns del $ns; done
for link in cni_net0 docker0 bridge1; do ip link del $link; done
exit 0
