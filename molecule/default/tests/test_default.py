"""Tutorial steps 1 to 5 as seen from inside each lab node, over SSH.

Every value here is the roles' default (the tutorial's), which converge.yml uses.
"""

from __future__ import annotations

import json
import os

import pytest
import testinfra.utils.ansible_runner

RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(
    os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
)
NODES = RUNNER.get_hosts("podnet_nodes")
testinfra_hosts = NODES

GATEWAY = "172.30.0.1"


def ip_json(host, *args: str):
    """`ip -j ARGS` on the node, parsed."""
    return json.loads(host.check_output("ip -j " + " ".join(args)) or "[]")


def link(host, netns: str | None, ifname: str) -> dict:
    """One interface with its addresses, from a namespace (None: the node's own)."""
    netns_args = ("-n", netns) if netns else ()
    (found,) = ip_json(host, *netns_args, "addr", "show", "dev", ifname)
    return found


def ipv4(found: dict) -> set[str]:
    return {f"{a['local']}/{a['prefixlen']}" for a in found["addr_info"] if a["family"] == "inet"}


def is_up(found: dict) -> bool:
    """Administratively up and with a carrier (a veth has one when its peer is up)."""
    return {"UP", "LOWER_UP"} <= set(found["flags"])


def ping(host, netns: str, address: str):
    return host.run("ip netns exec %s ping -c 1 -W 2 %s", netns, address)


def other_nodes_addresses(host) -> list[str]:
    me = host.backend.get_hostname()
    return [RUNNER.get_variables(node)["podnet_lab_address"] for node in NODES if node != me]


def test_lab_has_two_nodes():
    assert len(NODES) == 2


@pytest.mark.parametrize(
    "netns, ifname, cidr",
    [("client", "veth-client", "10.0.0.11/24"), ("server", "veth-server", "10.0.0.12/24")],
)
def test_step1_veth_end_in_its_namespace(host, netns, ifname, cidr):
    found = link(host, netns, ifname)
    assert ipv4(found) == {cidr}
    assert is_up(found)
    # The end lives in its namespace, not in the node's own.
    assert not host.run("ip link show dev %s", ifname).succeeded


def test_step1_client_reaches_server(host):
    result = ping(host, "client", "10.0.0.12")
    assert result.rc == 0, result.stdout + result.stderr


def test_step2_bridge_has_gateway_address_and_ports(host):
    bridge = link(host, None, "bridge1")
    assert ipv4(bridge) == {"172.30.0.1/24"}
    assert is_up(bridge)
    ports = {link["ifname"] for link in ip_json(host, "link", "show", "master", "bridge1")}
    assert ports == {"client1-veth-br", "server1-veth-br"}


@pytest.mark.parametrize("netns, cidr", [("client1", "172.30.0.11/24"), ("server1", "172.30.0.12/24")])
def test_step2_namespace_address_and_default_route(host, netns, cidr):
    assert ipv4(link(host, netns, f"{netns}-veth")) == {cidr}
    routes = ip_json(host, "-n", netns, "-4", "route", "show", "default")
    assert [(r.get("gateway"), r.get("dev")) for r in routes] == [(GATEWAY, f"{netns}-veth")]


@pytest.mark.parametrize("address", [GATEWAY, "172.30.0.12"])
def test_step2_client1_reaches_bridge_and_server1(host, address):
    result = ping(host, "client1", address)
    assert result.rc == 0, result.stdout + result.stderr


def test_step2_client1_reaches_other_node_through_masquerade(host):
    # The other node has its own 172.30.0.0/24 on its bridge and no route back, so
    # its reply only finds client1 if the request left this node masqueraded.
    targets = other_nodes_addresses(host)
    assert targets
    for address in targets:
        result = ping(host, "client1", address)
        assert result.rc == 0, result.stdout + result.stderr


def test_step2_masquerade_rule(host):
    rules = host.check_output("iptables -t nat -S POSTROUTING").splitlines()
    assert any("-s 172.30.0.0/24" in rule and "-j MASQUERADE" in rule for rule in rules), rules


def test_step2_ip_forward(host):
    assert host.sysctl("net.ipv4.ip_forward") == 1


# Steps 4 and 5: the CNI network demo_br and the pod pause_demo (roles/cni_pod).
NETWORK = "demo_br"
POD = "pause_demo"
POD_IFNAME = "eth10"
WEB_IP = "172.18.0.3"
BACKENDS = {"controlplane": "iptables", "node01": "nftables"}


def test_step3_web_container_on_docker0(host):
    assert ipv4(link(host, "web", "eth0")) == {WEB_IP + "/24"}
    bridge = link(host, None, "docker0")
    assert ipv4(bridge) == {"172.18.0.1/24"}
    (port,) = ip_json(host, "link", "show", "master", "docker0")
    assert port["ifname"] == "veth-web"
    routes = ip_json(host, "-n", "web", "route", "show", "default")
    assert [route.get("gateway") for route in routes] == ["172.18.0.1"], routes


def test_step3_web_answers_on_its_address(host):
    page = host.run("curl -sS -m 3 http://%s/", WEB_IP)
    assert "Welcome to nginx!" in page.stdout, page.stderr


def test_step3_forward_rules_in_this_nodes_backend(host):
    """controplane forwards with iptables, node01 with nftables (molecule.yml's host_vars)."""
    backend = BACKENDS[host.backend.get_hostname()]
    iptables = host.check_output("iptables-save")
    nft = host.run("nft list table ip podnet")
    if backend == "iptables":
        assert "-m addrtype --dst-type LOCAL -m tcp --dport 80 -m comment --comment \"podnet dnat web\" " \
               "-j DNAT --to-destination %s:80" % WEB_IP in iptables, iptables
        assert nft.rc != 0, nft.stdout
    else:
        assert "podnet dnat" not in iptables, iptables
        assert "fib daddr type local tcp dport 80 dnat to %s:80 comment \"podnet dnat web\"" % WEB_IP \
               in nft.stdout, nft.stdout


def test_step3_every_node_fetches_every_forward(host):
    """The tutorial's proof (node01 -> controlplane's address) from every node to
    every node, its own address included (the OUTPUT rule)."""
    for node in NODES:
        address = RUNNER.get_variables(node)["podnet_lab_address"]
        page = host.run("curl -sS -m 3 http://%s/", address)
        assert "Welcome to nginx!" in page.stdout, (node, address, page.stderr)


CNI_BRIDGE = "cni_net0"


def cni_octet(host) -> int:
    """Each node's pod subnet is 10.0.(10+i).0/24, i its place in the inventory."""
    return 10 + NODES.index(host.backend.get_hostname())


def cni_gateway(host) -> str:
    return f"10.0.{cni_octet(host)}.1"


NETNS_PATH = f"/run/netns/{POD}"
HOST_LOCAL_DIR = f"/var/lib/cni/networks/{NETWORK}"
CNI_CACHE = f"/var/lib/cni/results/{NETWORK}-{POD}-{POD_IFNAME}"
CNI_CONF = "/etc/cni/net.d/00-demo.conf"
CNI_BIN_DIR = "/opt/cni/bin"
PAUSE_ARGS = f"/usr/bin/python3 /run/podnet/pause.py {POD}"


@pytest.fixture()
def pod_ip(host) -> str:
    """The pod's address as the tutorial finds it: host-local's last reservation."""
    address = host.file(f"{HOST_LOCAL_DIR}/last_reserved_ip.0").content_string.strip()
    assert address.startswith(f"10.0.{cni_octet(host)}."), address
    return address


def netns_inode(host, path: str) -> int:
    """Inode of a network namespace file (/run/netns/NAME or /proc/PID/ns/net)."""
    return int(host.check_output("stat -L -c %%i %s", path))


def processes(host) -> list[tuple[int, str, str]]:
    """(pid, comm, args) of every process in the node (it has its own PID namespace)."""
    found = []
    for line in host.check_output("ps -eo pid=,comm=,args=").splitlines():
        pid, comm, args = line.strip().split(None, 2)
        found.append((int(pid), comm, args))
    return found


def test_step4_conf_is_the_tutorials(host):
    conf = json.loads(host.file(CNI_CONF).content_string)
    assert conf["cniVersion"] == "0.2.0"
    assert conf["name"] == NETWORK
    assert conf["type"] == "bridge"
    assert conf["bridge"] == CNI_BRIDGE
    assert conf["ipam"]["type"] == "host-local"
    assert conf["ipam"]["subnet"] == f"10.0.{cni_octet(host)}.0/24"


def test_step4_plugins_installed_root_owned_0755(host):
    listing = host.check_output(
        "find %s -mindepth 1 -maxdepth 1 ! -name '.*' -printf '%%f %%y %%u %%g %%m\\n'", CNI_BIN_DIR
    )
    plugins = dict(line.split(" ", 1) for line in listing.splitlines())
    # What 00-demo.conf needs is there ...
    assert {"bridge", "host-local", "loopback"} <= plugins.keys(), sorted(plugins)
    # ... and every plugin is a regular file, root:root, 0755.
    wrong = {name: rest for name, rest in plugins.items() if rest != "f root root 755"}
    assert not wrong, wrong


def test_step4_bridge_holds_gateway_address(host):
    bridge = link(host, None, CNI_BRIDGE)
    assert ipv4(bridge) == {f"{cni_gateway(host)}/24"}
    assert is_up(bridge)
    # The host-side veth ends of the pod and of its peer (pause_peer) are the bridge's ports.
    ports = ip_json(host, "link", "show", "master", CNI_BRIDGE)
    assert len(ports) == 2, ports
    assert all(port.get("link_type") == "ether" and "@" not in port["ifname"] for port in ports), ports


def test_step5_peer_pod_on_the_same_bridge_reaches_the_pod(host, pod_ip):
    """pause_peer has a network of its own (demo_peer) on the same bridge, with the
    top of the subnet, so demo_br's last reservation stays the tutorial pod's."""
    (peer,) = ip_json(host, "-n", "pause_peer", "addr", "show", "dev", POD_IFNAME)
    (address,) = ipv4(peer)
    assert address in {f"10.0.{cni_octet(host)}.{last}/24" for last in range(250, 255)}, address
    reserved = host.file("/var/lib/cni/networks/demo_peer/last_reserved_ip.0").content_string.strip()
    assert reserved == address.split("/")[0]
    page = host.run("ip netns exec pause_peer curl -sS -m 3 http://%s/", pod_ip)
    assert "Welcome to nginx!" in page.stdout, page.stderr


def test_step4_host_local_reserved_the_pod_ip(host, pod_ip):
    reservation = host.file(f"{HOST_LOCAL_DIR}/{pod_ip}")
    assert reservation.is_file
    # host-local records the container ID and the interface name.
    assert reservation.content_string.split() == [POD, POD_IFNAME]


def test_step4_libcni_cache(host, pod_ip):
    cache = host.file(CNI_CACHE)
    assert cache.is_file
    entry = json.loads(cache.content_string)
    assert entry["kind"] == "cniCacheV1"
    assert entry["networkName"] == NETWORK
    assert entry["containerId"] == POD
    assert entry["ifName"] == POD_IFNAME
    assert entry["result"]["ip4"]["ip"] == f"{pod_ip}/24"


def test_step4_pod_interface_holds_pod_ip(host, pod_ip):
    eth = link(host, POD, POD_IFNAME)
    assert ipv4(eth) == {f"{pod_ip}/24"}
    assert is_up(eth)


def test_step4_pod_routes_via_gateway(host):
    routes = {
        (r["dst"], r.get("gateway"), r.get("dev"))
        for r in ip_json(host, "-n", POD, "-4", "route", "show")
    }
    assert ("default", cni_gateway(host), POD_IFNAME) in routes, routes
    assert ("1.1.1.1", cni_gateway(host), POD_IFNAME) in routes, routes


def test_step5_pause_and_nginx_share_the_pod_netns(host):
    pod_ns = netns_inode(host, NETNS_PATH)
    # The pod's namespace is not the node's own.
    assert pod_ns != netns_inode(host, "/proc/1/ns/net")
    procs = processes(host)
    pause = [proc[0] for proc in procs if proc[2] == PAUSE_ARGS]
    nginx = [proc[0] for proc in procs if proc[1] == "nginx"]
    assert len(pause) == 1, procs
    masters = [proc[0] for proc in procs if proc[2].startswith("nginx: master process nginx -g daemon off;")]
    assert netns_inode(host, f"/proc/{pause[0]}/ns/net") == pod_ns
    # Two nginx: the pod's (step 5) and step 3's web container's, each with its workers.
    web_ns = netns_inode(host, "/run/netns/web")
    assert sorted(netns_inode(host, f"/proc/{pid}/ns/net") for pid in masters) == sorted([pod_ns, web_ns]), masters
    assert {netns_inode(host, f"/proc/{pid}/ns/net") for pid in nginx} == {pod_ns, web_ns}, nginx


def test_step5_nginx_answers_on_pod_ip(host, pod_ip):
    page = host.run("curl -s --max-time 5 http://%s/", pod_ip)
    assert page.rc == 0, page.stderr
    assert "Welcome to nginx!" in page.stdout
