"""After tutorial.yml then tutorial_down.yml: nothing of the tutorial on either node.

Each node has its own network, mount and PID namespaces and its own /run, /etc/cni,
/opt/cni and /var/lib/cni, so what these tests see is the node's alone: `ip netns`
lists the node's namespaces, `ps` its processes.
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

NAMESPACES = ["client", "server", "client1", "server1", "web", "pause_demo", "pause_peer"]
# Steps 1 and 2's links (in the node's own namespace while they exist), step 3's
# bridge and veth end, and step 4's bridge.
LINKS = ["bridge1", "docker0", "veth-web", "cni_net0", "veth-client", "veth-server", "client1-veth-br",
         "server1-veth-br"]
# The node's own link to the lab bridge is a veth too, and stays.
LAB_LINK = "eth0"


def ip_json(host, *args: str):
    """`ip -j ARGS` on the node, parsed."""
    return json.loads(host.check_output("ip -j " + " ".join(args)) or "[]")


def test_lab_has_two_nodes():
    assert len(NODES) == 2


def test_tutorial_ran_on_this_node(host):
    # /opt/cni is the node's own tmpfs, empty when the lab starts; the plugins stay
    # installed after teardown, so they show that converge reached this node and
    # that the absences below are the teardown's doing.
    assert host.file("/opt/cni/bin/bridge").is_file
    assert host.file("/opt/cni/bin/.podnet-cni-plugins.json").is_file


@pytest.mark.parametrize("netns", NAMESPACES)
def test_no_tutorial_netns(host, netns):
    listed = [line.split()[0] for line in host.check_output("ip netns list").splitlines() if line.strip()]
    assert netns not in listed, listed
    assert not host.file(f"/run/netns/{netns}").exists


def test_no_tutorial_links(host):
    names = {found["ifname"] for found in ip_json(host, "link", "show")}
    assert LAB_LINK in names, names
    assert not names & set(LINKS), names


def test_no_veth_but_the_lab_link(host):
    veths = [found["ifname"] for found in ip_json(host, "link", "show", "type", "veth")]
    assert veths == [LAB_LINK], veths


def test_no_masquerade_or_cni_rules(host):
    rules = host.check_output("iptables -t nat -S").splitlines()
    assert "-P POSTROUTING ACCEPT" in rules, rules
    left = [rule for rule in rules if "MASQUERADE" in rule or "CNI-" in rule]
    assert not left, left


def test_no_port_forward_rules(host):
    """Step 3's forward is gone from both backends, and with it nftables' table of ours."""
    rules = host.check_output("iptables-save")
    assert "podnet dnat" not in rules, rules
    assert host.run("nft list table ip podnet").rc != 0


def test_port_80_is_closed(host):
    me = host.backend.get_hostname()
    for node in NODES:
        address = RUNNER.get_variables(node)["podnet_lab_address"]
        fetch = host.run("curl -sS -m 3 http://%s/", address)
        assert fetch.rc != 0, (me, address, fetch.stdout)


def test_no_host_local_directory(host):
    assert host.file("/var/lib/cni/networks").is_directory
    assert not host.file("/var/lib/cni/networks/demo_br").exists
    assert not host.file("/var/lib/cni/networks/demo_peer").exists


def test_no_cni_cache_files(host):
    results = host.file("/var/lib/cni/results")
    if results.exists:
        assert host.check_output("find /var/lib/cni/results -mindepth 1") == ""


def test_no_network_conf(host):
    assert not host.file("/etc/cni/net.d/00-demo.conf").exists
    assert not host.file("/etc/cni/net.d/10-demo-peer.conf").exists


def test_no_pod_state(host):
    assert not host.file("/run/podnet/pods/pause_demo").exists
    assert not host.file("/run/podnet/pods/pause_peer").exists


def test_no_pause_or_nginx_process(host):
    procs = [line.strip().split(None, 2) for line in host.check_output("ps -eo pid=,comm=,args=").splitlines()]
    # The node's init (tini, PID 1 of the node's PID namespace) shows ps sees the node.
    assert ["1", "tini"] in [proc[:2] for proc in procs], procs
    left = [proc for proc in procs if proc[1] in ("nginx", "sleep") or "pause.py" in proc[2]]
    assert not left, left
