#!/usr/bin/env bash
# The tutorial's own commands for steps 1-5 on one node, as the text types them
# (plus the forwarding, masquerade and OUTPUT rule it leaves implicit, and
# the peer pod site.yml adds for verify.yml's pod-to-pod check): the floor
# the collection is measured against. Run on the node: ssh NODE bash -s < this.
# POD_OCTET picks the node's pod subnet 10.0.POD_OCTET.0/24, as site.yml does.
set -euo pipefail
octet=${POD_OCTET:-10}
cni=/usr/lib/cni

# step 1
ip netns add client
ip netns add server
ip link add veth-client netns client type veth peer name veth-server netns server
ip -n client addr add 10.0.0.11/24 dev veth-client
ip -n server addr add 10.0.0.12/24 dev veth-server
ip -n client link set veth-client up
ip -n server link set veth-server up
ip -n client link set lo up
ip -n server link set lo up

# step 2
ip link add bridge1 type bridge
for ns in client1 server1; do
    ip netns add $ns
    ip link add $ns-veth netns $ns type veth peer name $ns-veth-br
    ip link set $ns-veth-br master bridge1 up
    ip -n $ns link set $ns-veth up
    ip -n $ns link set lo up
done
ip -n client1 addr add 172.30.0.11/24 dev client1-veth
ip -n server1 addr add 172.30.0.12/24 dev server1-veth
ip addr add 172.30.0.1/24 dev bridge1
ip link set bridge1 up
ip -n client1 route add default via 172.30.0.1
ip -n server1 route add default via 172.30.0.1
sysctl -qw net.ipv4.ip_forward=1
iptables -t nat -A POSTROUTING -s 172.30.0.0/24 ! -o bridge1 -j MASQUERADE

# step 3
ip netns add web
ip -n web link set lo up
ip link add docker0 type bridge
ip addr add 172.18.0.1/24 dev docker0
ip link set docker0 up
ip link add eth0 netns web type veth peer name veth-web
ip link set veth-web master docker0 up
ip -n web addr add 172.18.0.3/24 dev eth0
ip -n web link set eth0 up
ip -n web route add default via 172.18.0.1
ip netns exec web setsid -f nginx -g 'daemon off;' </dev/null >/dev/null 2>&1
iptables -t nat -A PREROUTING -p tcp --dport 80 -m addrtype --dst-type LOCAL -j DNAT --to-destination 172.18.0.3:80
iptables -t nat -A OUTPUT -p tcp --dport 80 -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j DNAT --to-destination 172.18.0.3:80

# step 4
mkdir -p /etc/cni/net.d
cat > /etc/cni/net.d/00-demo.conf <<CONF
{"cniVersion": "0.2.0", "name": "demo_br", "type": "bridge", "bridge": "cni_net0", "isGateway": true,
 "ipMasq": true, "ipam": {"type": "host-local", "subnet": "10.0.$octet.0/24",
 "routes": [{"dst": "0.0.0.0/0"}, {"dst": "1.1.1.1/32", "gw": "10.0.$octet.1"}]}}
CONF
cat > /etc/cni/net.d/10-demo-peer.conf <<CONF
{"cniVersion": "0.2.0", "name": "demo_peer", "type": "bridge", "bridge": "cni_net0", "isGateway": true,
 "ipMasq": true, "ipam": {"type": "host-local", "subnet": "10.0.$octet.0/24",
 "rangeStart": "10.0.$octet.250", "rangeEnd": "10.0.$octet.254",
 "routes": [{"dst": "0.0.0.0/0"}, {"dst": "1.1.1.1/32", "gw": "10.0.$octet.1"}]}}
CONF
for pod in pause_demo:00-demo.conf pause_peer:10-demo-peer.conf; do
    ip netns add ${pod%%:*}
    ip -n ${pod%%:*} link set lo up
    ip netns exec ${pod%%:*} setsid -f sleep infinity </dev/null >/dev/null 2>&1
    CNI_COMMAND=ADD CNI_CONTAINERID=${pod%%:*} CNI_NETNS=/var/run/netns/${pod%%:*} CNI_IFNAME=eth10 CNI_PATH=$cni \
        $cni/bridge < /etc/cni/net.d/${pod#*:} > /dev/null
done

# step 5
ip netns exec pause_demo setsid -f nginx -g 'daemon off;' </dev/null >/dev/null 2>&1
