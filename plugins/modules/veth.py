#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: veth
short_description: Manage veth pairs whose ends live in any network namespaces
version_added: 0.1.0
description:
  - A veth pair is a virtual cable with two ends; what enters one end leaves the other. Container runtimes put one
    end in the container's network namespace and the other on a bridge in the host, which is how a container
    gets on the network.
  - This module creates the pair with both ends already in their namespaces (in one kernel request, so there is
    never a half-made pair), moves an end that sits in the wrong namespace, and sets each end's addresses, MTU,
    bridge master and up or down state.
  - The options at the top level describe one end; O(peer) describes the other with the same keys.
author:
  - packetlife.podnet developers (@packetlife)
extends_documentation_fragment:
  - packetlife.podnet._attributes
  - packetlife.podnet._attributes.BULK
  - packetlife.podnet._attributes.INTERFACE
options:
  name:
    description:
      - Name of this end. 1 to 15 bytes, without C(/), C(:), C(%) or white space.
      - Required unless O(pairs) is given.
    type: str
  master:
    description:
      - Bridge to attach this end to, in the same namespace as the end (the C(-br) ends of the tutorial's step 2).
    type: str
  peer:
    description:
      - The other end, a dictionary with the keys O(name) (required), O(netns), O(addresses), O(mtu), O(master)
        and O(up), with the same meaning as for this end.
      - Required when O(state=present). With O(state=absent) it is optional; if given, the pair is found from either
        end and its peer name is checked before deleting.
    type: dict
  state:
    description:
      - V(present) creates or fixes the pair. An existing interface with one of the names that is not a veth, or is a
        veth whose peer has another name, makes the task fail without changing anything.
      - V(absent) deletes the pair; deleting one end removes both. Only a veth is ever deleted.
    type: str
    choices: [present, absent]
    default: present
  pairs:
    description:
      - Manage many pairs in one task. Each element takes the keys O(name), O(netns), O(addresses), O(mtu),
        O(master), O(up), O(peer) and O(state) as documented above.
      - Mutually exclusive with O(name).
    type: list
    elements: dict
seealso:
  - module: packetlife.podnet.netns
  - module: packetlife.podnet.linux_bridge
'''

EXAMPLES = r'''
- name: Step 1 of the tutorial - a cable between two namespaces
  packetlife.podnet.veth:
    name: veth-client
    netns: client
    addresses: [10.0.0.11/24]
    peer:
      name: veth-server
      netns: server
      addresses: [10.0.0.12/24]

- name: Step 2 - namespaces on a bridge, one task for all pairs
  packetlife.podnet.veth:
    pairs:
      - name: client1-veth
        netns: client1
        addresses: [172.30.0.11/24]
        peer: {name: client1-veth-br, master: bridge1}
      - name: server1-veth
        netns: server1
        addresses: [172.30.0.12/24]
        peer: {name: server1-veth-br, master: bridge1}

- name: Remove a pair from either end
  packetlife.podnet.veth:
    name: veth-client
    netns: client
    state: absent
'''

RETURN = r'''
pairs:
  description:
    - Each managed pair, keyed by the name of its first end (V(NETNS/NAME) when that end is in a named namespace), as
      the kernel reports it after the task (predicted in check mode).
    - V(state) is V(present) or V(absent); V(end) and V(peer) describe the two ends when the pair exists.
  returned: always
  type: dict
  sample:
    client/veth-client:
      state: present
      end: {name: veth-client, netns: client, kind: veth, up: true, mtu: 1500, master: null, addresses: [10.0.0.11/24]}
      peer: {name: veth-server, netns: server, kind: veth, up: true, mtu: 1500, master: null, addresses: [10.0.0.12/24]}
actions:
  description: What the task did, or would do in check mode, one step per entry.
  returned: always
  type: list
  elements: str
  sample:
    - create veth veth-client in netns client with peer veth-server in netns server
    - add address 10.0.0.11/24 to veth-client in netns client
    - set veth-client up in netns client
'''

from ansible_collections.packetlife.podnet.plugins.module_utils import _module
from ansible_collections.packetlife.podnet.plugins.module_utils._veth import ITEM_SPEC, VethManager


def main():
    _module.run(ITEM_SPEC, 'pairs', 'pairs', VethManager())


if __name__ == '__main__':
    main()
