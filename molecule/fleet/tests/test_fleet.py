"""playbooks/site.yml on three nodes, seen from inside each node over SSH."""

from __future__ import annotations

import json
import os

import testinfra.utils.ansible_runner

RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(
    os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
)
NODES = RUNNER.get_hosts("podnet_nodes")
testinfra_hosts = NODES


def address_of(node: str) -> str:
    return RUNNER.get_variables(node)["podnet_lab_address"]


def test_fleet_has_three_nodes():
    assert len(NODES) == 3


def test_each_node_has_its_own_pod_subnet(host):
    """The i-th node's pod network is 10.0.(10+i).0/24, so pod IPs never clash."""
    octet = 10 + NODES.index(host.backend.get_hostname())
    conf = json.loads(host.file("/etc/cni/net.d/00-demo.conf").content_string)
    assert conf["ipam"]["subnet"] == f"10.0.{octet}.0/24"
    reserved = host.file("/var/lib/cni/networks/demo_br/last_reserved_ip.0").content_string.strip()
    assert reserved == f"10.0.{octet}.2"


def test_every_node_fetches_every_forward(host):
    for node in NODES:
        page = host.run("curl -sS -m 3 http://%s/", address_of(node))
        assert "Welcome to nginx!" in page.stdout, (node, page.stderr)


def test_bridge_namespaces_reach_every_other_node(host):
    me = host.backend.get_hostname()
    for node in NODES:
        if node != me:
            ping = host.run("ip netns exec client1 ping -c 1 -W 2 %s", address_of(node))
            assert ping.rc == 0, (node, ping.stdout, ping.stderr)


def test_the_pod_answers(host):
    reserved = host.file("/var/lib/cni/networks/demo_br/last_reserved_ip.0").content_string.strip()
    page = host.run("curl -sS -m 3 http://%s/", reserved)
    assert "Welcome to nginx!" in page.stdout, page.stderr
