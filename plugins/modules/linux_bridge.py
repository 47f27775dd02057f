#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: linux_bridge
short_description: Manage Linux bridges with gateway addresses, ports, forwarding and masquerade
version_added: 0.1.0
description:
  - A Linux bridge is a virtual switch. Docker's C(docker0) and the CNI bridge plugin's C(cni0) are bridges whose
    ports are the host ends of the containers' veth pairs; an address on the bridge makes it the containers' gateway.
  - This module creates or deletes a bridge in the host's namespace or a named one, sets its addresses, MTU, STP and
    up state, attaches and detaches ports, and can do what the CNI bridge plugin does for O(forwarding) (its
    C(isGateway)) and O(masquerade) (its C(ipMasq)) so that the namespaces behind the bridge reach other hosts.
author:
  - packetlife.podnet developers (@packetlife)
extends_documentation_fragment:
  - packetlife.podnet._attributes
  - packetlife.podnet._attributes.BULK
  - packetlife.podnet._attributes.INTERFACE
options:
  name:
    description:
      - Name of the bridge. 1 to 15 bytes, without C(/), C(:), C(%) or white space.
      - Required unless O(bridges) is given.
    type: str
  stp:
    description:
      - Spanning Tree Protocol on or off. Unmanaged when omitted (a new bridge has it off).
    type: bool
  ports:
    description:
      - Interfaces in the same namespace to attach to the bridge. An interface attached to another bridge is moved.
    type: list
    elements: str
  ports_exclusive:
    description:
      - When V(true), ports of the bridge that O(ports) does not list are detached.
    type: bool
    default: false
  forwarding:
    description:
      - Set C(net.ipv4.ip_forward) in the bridge's namespace. V(true) turns IPv4 forwarding on, which the namespaces
        behind the bridge need to reach anything beyond it; V(false) turns it off.
      - It is a setting of the whole namespace, so deleting the bridge leaves it as it is. Unmanaged when omitted.
    type: bool
  masquerade:
    description:
      - V(true) adds, for each IPv4 subnet of the bridge's addresses, an C(iptables) rule in the C(nat) table,
        C(-A POSTROUTING -s SUBNET ! -o BRIDGE -j MASQUERADE), as Docker and the CNI bridge plugin's C(ipMasq) do.
        Packets from the namespaces then leave with the host's address, so replies find their way back.
      - The rules carry the comment C(podnet masquerade BRIDGE); that is how the module knows they are its own.
        V(false) removes them, and so does O(state=absent). Rules without the comment are never touched.
      - Needs the C(iptables) commands on the target; all changes of one task go in one C(iptables-restore --noflush).
    type: bool
  state:
    description:
      - V(present) creates or fixes the bridge; an interface of that name that is not a bridge makes the task fail.
      - V(absent) deletes the bridge (its ports stay, detached) and its masquerade rules.
    type: str
    choices: [present, absent]
    default: present
  bridges:
    description:
      - Manage many bridges in one task. Each element takes the keys O(name), O(netns), O(addresses), O(mtu), O(up),
        O(stp), O(ports), O(ports_exclusive), O(forwarding), O(masquerade) and O(state) as documented above.
      - Mutually exclusive with O(name).
    type: list
    elements: dict
seealso:
  - module: packetlife.podnet.veth
  - module: packetlife.podnet.netns
  - name: CNI bridge plugin
    description: The plugin whose isGateway and ipMasq behaviour O(forwarding) and O(masquerade) reproduce.
    link: https://www.cni.dev/plugins/current/main/bridge/
'''

EXAMPLES = r'''
- name: Step 2 of the tutorial - the bridge as the namespaces' gateway, with egress
  packetlife.podnet.linux_bridge:
    name: bridge1
    addresses: [172.30.0.1/24]
    forwarding: true
    masquerade: true

- name: A bridge inside a namespace, with its ports listed exactly
  packetlife.podnet.linux_bridge:
    name: br-lab
    netns: router
    stp: true
    ports: [port1, port2]
    ports_exclusive: true

- name: Remove the bridge and its masquerade rules
  packetlife.podnet.linux_bridge:
    name: bridge1
    state: absent
'''

RETURN = r'''
bridges:
  description:
    - Each managed bridge, keyed by name (V(NETNS/NAME) in a named namespace), as the kernel reports it after the task
      (predicted in check mode).
  returned: always
  type: dict
  sample:
    bridge1:
      state: present
      name: bridge1
      netns: null
      kind: bridge
      up: true
      mtu: 1500
      master: null
      stp: false
      addresses: [172.30.0.1/24]
      ports: [client1-veth-br, server1-veth-br]
      forwarding: true
      masquerade_rules:
        - -A POSTROUTING -s 172.30.0.0/24 ! -o bridge1 -m comment --comment "podnet masquerade bridge1" -j MASQUERADE
actions:
  description: What the task did, or would do in check mode, one step per entry.
  returned: always
  type: list
  elements: str
  sample:
    - create bridge bridge1 in the root namespace
    - add address 172.30.0.1/24 to bridge1 in the root namespace
    - set bridge1 up in the root namespace
'''

from ansible_collections.packetlife.podnet.plugins.module_utils import _module
from ansible_collections.packetlife.podnet.plugins.module_utils._bridge import ITEM_SPEC, BridgeManager


def main():
    _module.run(ITEM_SPEC, 'bridges', 'bridges', BridgeManager())


if __name__ == '__main__':
    main()
