#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: dnat_rule
short_description: Forward a port of the host to a container or pod (DNAT), as one owned set of firewall rules
version_added: 0.1.0
description:
  - A container on a bridge has an address only the host can reach. To serve other hosts, the host forwards one of
    its own ports to it by destination NAT, which is what C(docker run -p) and the CNI C(portmap) plugin do. Step 3
    of "Life of a Packet in Kubernetes" does it by hand with
    C(iptables -t nat -A PREROUTING -p tcp --dport 80 -j DNAT --to-destination WEB_IP:80).
  - This module manages one such port forward, named by O(name), as the set of rules it needs.
    The DNAT in C(PREROUTING) serves packets from other hosts. The DNAT in C(OUTPUT) (O(local)) serves the host's
    own C(curl HOST_IP:PORT), which C(PREROUTING) never sees. The C(FORWARD) accept (O(forward_accept)) lets the
    traffic through where the filter policy drops. The masquerade (O(hairpin)) lets the destination reach itself
    through the host's port.
  - Every rule matches only packets addressed to a local address of the host (C(-m addrtype --dst-type LOCAL),
    nft C(fib daddr type local)), never any destination, so the forward cannot capture traffic that merely passes
    through the host.
  - Every rule carries the comment C(podnet dnat NAME). The module finds its rules by that comment and nothing else,
    replaces a rule edited behind its back, adds back a deleted one, removes duplicates, and removes all of them
    with O(state=absent). Rules without the comment are never touched.
  - Each task reads the firewall of each namespace once and changes each table in one batch
    (C(iptables-restore --noflush), one C(nft -f) transaction), so many forwards in O(rules) cost what one does.
  - IPv4 forwarding (C(net.ipv4.ip_forward)) is turned on when the destination is not an address of the host
    itself. It is never turned off again, as other forwards may need it.
author:
  - packetlife.podnet developers (@packetlife)
extends_documentation_fragment:
  - packetlife.podnet._attributes
  - packetlife.podnet._attributes.BULK
options:
  name:
    description:
      - Name of the port forward, written into the comment of each of its rules.
      - Up to 64 bytes of letters, digits, C(.), C(_) and C(-), starting with a letter or digit.
      - Required unless O(rules) is given.
    type: str
  state:
    description:
      - V(present) makes the rules exactly what the options describe.
      - V(absent) removes every rule of this name in O(netns), in both backends. Only O(name) and O(netns) matter then.
    type: str
    choices: [present, absent]
    default: present
  netns:
    description:
      - Named network namespace (C(/run/netns/NETNS)) whose firewall gets the rules. Omit it for the namespace the
        module runs in, the host's own.
    type: str
  backend:
    description:
      - V(iptables) writes the rules with C(iptables-restore). Where both the nf_tables and the legacy iptables are
        installed, the one that holds more rules is used, as kube-proxy decides; the legacy one waits up to 10 seconds
        for the xtables lock, and a lock timeout fails the task.
      - V(nftables) writes the rules into a table of the collection's own, C(ip podnet), with chains
        C(prerouting), C(output) and C(postrouting). The table is removed with its last rule.
      - V(auto) keeps the backend that already holds this forward's rules. For a new forward it picks what the host
        uses. That is nftables when iptables holds no rules and native nftables tables exist (such as Debian's
        C(inet filter) or firewalld's). It is iptables otherwise, and whichever is installed when only one is.
      - Rules of this name in the other backend are removed, so changing O(backend) moves the forward.
    type: str
    choices: [auto, iptables, nftables]
    default: auto
  protocol:
    description:
      - Transport protocol of the forwarded port.
    type: str
    choices: [tcp, udp, sctp]
    default: tcp
  port:
    description:
      - The host's port, V(80), or a range of ports, V(8080-8090) (also written V(8080:8090)), 1 to 65535.
      - Required with O(state=present).
    type: raw
  destination:
    description:
      - Where the traffic goes, an IPv4 address with an optional port, V(172.18.0.2:80). Without a port (and without
        O(to_port)) the destination port is the port the packet came to.
      - Only a unicast address is accepted; V(0.0.0.0), multicast, broadcast and loopback addresses are refused.
      - Exactly one of O(destination) and O(pod) is required with O(state=present).
    type: str
  pod:
    description:
      - Send the traffic to the pod of this name made by M(packetlife.podnet.pause_pod) on the same host; its IPv4
        address is read from the pod's CNI result. The rules follow the pod when it gets a new address on a later run.
    type: str
  to_port:
    description:
      - The destination's port, when O(destination) does not name one or O(pod) is used. Default is the port the
        packet came to.
    type: int
  match_destination:
    description:
      - Forward only packets sent to this address (or network) of the host, for example the one address a lab node
        has on the lab network. Without it, every local address of the host forwards the port.
      - Loopback addresses are refused. DNAT from C(127.0.0.0/8) to another host needs C(route_localnet), which this
        module does not turn on.
    type: str
  in_interface:
    description:
      - Forward only packets that arrive on this interface. It applies to the C(PREROUTING) rule; the host's own
        traffic (O(local)) arrives on no interface.
    type: str
  local:
    description:
      - Also forward connections the host itself makes to its own address and O(port) (the C(OUTPUT) chain rule).
        Connections to C(127.0.0.1) are not forwarded.
    type: bool
    default: true
  forward_accept:
    description:
      - Whether to accept the forwarded connections in the filter table's C(FORWARD) chain, in both directions
        (C(-m conntrack --ctstate DNAT) for the destination and port), inserted at the top of the chain.
      - V(auto) adds the rule when the C(FORWARD) policy is C(DROP), as it is on hosts running Docker.
        V(always) and V(never) do what they say.
      - It applies to the iptables backend. nftables runs every base chain, so an accept in the collection's own
        table cannot override a drop in another table. With O(backend=nftables), no forward rule is made. The module
        warns instead when a chain hooked to C(forward) drops by policy.
    type: str
    choices: [auto, always, never]
    default: auto
  hairpin:
    description:
      - Masquerade connections from the destination to itself through the host's port, so that a container can
        reach its own published port.
    type: bool
    default: false
  rules:
    description:
      - Manage many port forwards in one task. Each element takes the keys of the single form.
      - Mutually exclusive with O(name).
    type: list
    elements: dict
notes:
  - Requires C(iptables) (with C(iptables-save) and C(iptables-restore)) for the iptables backend and C(nft) for the
    nftables backend on the target; commands are run with argument lists, never through a shell.
  - Existing connections keep the translation they started with (conntrack); a changed forward applies to new ones.
  - Only IPv4 is forwarded.
seealso:
  - module: packetlife.podnet.pause_pod
  - module: packetlife.podnet.linux_bridge
  - name: iptables-extensions(8)
    description: The DNAT, addrtype and conntrack matches and targets used by the iptables backend.
    link: https://ipset.netfilter.org/iptables-extensions.man.html
  - name: nft(8)
    description: The nftables rule language used by the nftables backend.
    link: https://www.netfilter.org/projects/nftables/manpage.html
'''

EXAMPLES = r'''
- name: Step 3 of the tutorial - port 80 of the host to the web container
  packetlife.podnet.dnat_rule:
    name: web
    port: 80
    destination: 172.18.0.2:80

- name: Only for the node's lab address, in a table of our own
  packetlife.podnet.dnat_rule:
    name: web
    port: 80
    destination: 172.18.0.2:80
    match_destination: 198.18.0.11
    backend: nftables

- name: A range of UDP ports to a pod, whose address is looked up
  packetlife.podnet.dnat_rule:
    name: game
    protocol: udp
    port: 27015-27020
    pod: pause_demo

- name: Many forwards in one task (one firewall batch)
  packetlife.podnet.dnat_rule:
    rules:
      - name: web
        port: 80
        destination: 172.18.0.2:80
      - name: web-tls
        port: 443
        destination: 172.18.0.2:443
      - name: api
        port: 8080
        pod: pause_demo
        to_port: 80

- name: Remove a forward, whatever backend holds it
  packetlife.podnet.dnat_rule:
    name: web
    state: absent
'''

RETURN = r'''
rules:
  description:
    - Each managed port forward, keyed by name (V(NETNS/NAME) in a named namespace), after the task.
    - In check mode, the predicted state.
  returned: always
  type: dict
  contains:
    state:
      description: V(present) when the firewall holds rules of this name.
      type: str
      sample: present
    rules:
      description:
        - The forward's rules, as the commands that make them (C(iptables -t TABLE -A ...) in the form C(iptables-save)
          prints, or C(nft add rule ip podnet CHAIN ...) as C(nft list) prints).
      type: list
      elements: str
      sample:
        - iptables -t nat -A PREROUTING -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 80 -m comment --comment
          "podnet dnat web" -j DNAT --to-destination 172.18.0.2:80
    backend:
      description: V(iptables) or V(nftables), the backend holding the rules.
      type: str
      returned: when present
      sample: iptables
    destination:
      description: The destination address, also for O(pod).
      type: str
      returned: when present
      sample: 172.18.0.2
    netns:
      description: The namespace of the rules, null for the host's own.
      type: str
      returned: when present
    ip_forward:
      description: Whether IPv4 forwarding is on in the namespace.
      type: bool
      returned: when present
actions:
  description: What the task did (or would do, in check mode), in order.
  returned: always
  type: list
  elements: str
  sample:
    - "port forward(s) web: iptables nat table, remove 0 rule(s), add 2 in the host namespace"
'''

from ansible_collections.packetlife.podnet.plugins.module_utils import _module
from ansible_collections.packetlife.podnet.plugins.module_utils._dnat import ITEM_SPEC, DnatManager


def main():
    _module.run(ITEM_SPEC, 'rules', 'rules', DnatManager())


if __name__ == '__main__':
    main()
