"""Tutorial steps 1 and 2 as seen from inside each lab node, over SSH.

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
