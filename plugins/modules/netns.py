#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: netns
short_description: Manage named network namespaces, their loopback, routes and sysctls
version_added: 0.1.0
description:
  - Creates and deletes named network namespaces under C(/run/netns), the way C(ip netns add) and C(ip netns del) do,
    so that C(ip netns exec NAME ...) and every other tool finds them.
  - Brings the namespace's loopback interface up, manages routes in its main routing table and sets
    per-namespace C(net.*) sysctls, all from inside the namespace, without running C(ip).
  - Adopts a network namespace that another program made, by file (such as the C(SandboxKey) that
    C(docker inspect) shows), by process ID, or by Docker container name or ID (the module then asks the engine
    for the container's C(SandboxKey) itself), so it gets a name as in the tutorial's C(ln -s) step.
  - This is step 1 of "Life of a Packet in Kubernetes". A namespace is an isolated network stack with its own
    interfaces, addresses, routes and firewall.
author:
  - packetlife.podnet developers (@packetlife)
extends_documentation_fragment:
  - packetlife.podnet._attributes
  - packetlife.podnet._attributes.BULK
options:
  name:
    description:
      - Name of the namespace, the file C(/run/netns/NAME).
      - Up to 255 bytes; must not be empty, V(.), V(..), or contain C(/).
      - Required unless O(namespaces) is given.
    type: str
  state:
    description:
      - V(present) creates (or adopts) the namespace and applies the other options.
      - V(absent) deletes the name. A namespace that was created here disappears with its interfaces once no
        process uses it any more; for an adopted namespace only the name is removed, the owner's namespace stays.
    type: str
    choices: [present, absent]
    default: present
  path:
    description:
      - Adopt the existing network namespace file at this path (for example C(/var/run/docker/netns/1a2b3c4d5e6f))
        by making C(/run/netns/NAME) a symbolic link to it, as the tutorial does with C(ln -s).
      - If the name already links somewhere else, the link is pointed here. If the name is a namespace of its own,
        the module fails instead of replacing it.
      - Mutually exclusive with O(pid) and O(container).
    type: path
  pid:
    description:
      - Adopt the network namespace of this process by bind-mounting C(/proc/PID/ns/net) on C(/run/netns/NAME),
        like C(ip netns attach NAME PID). The name keeps the namespace alive after the process ends.
      - Mutually exclusive with O(path) and O(container).
    type: int
  container:
    description:
      - Adopt the network namespace of this running Docker container, given by name or ID. The module asks the
        engine at O(docker_host) for the container's C(SandboxKey) (as C(docker inspect -f '{{.NetworkSettings.SandboxKey}}')
        does) and links C(/run/netns/NAME) to it, exactly as O(path) would.
      - A container that joined another's namespace (C(--network container:OTHER)) leads to OTHER's namespace.
        A container that is missing, not running, or uses the host's network fails the task before anything changes.
      - The link follows the container's current namespace on every run; after the container was recreated, the
        name is pointed at the new one.
      - Mutually exclusive with O(path) and O(pid).
    type: str
  docker_host:
    description:
      - The Docker engine asked about O(container), as a C(unix://) URL of its API socket (only unix sockets, since
        the namespace must be on the target itself).
      - If not given, the environment variable C(DOCKER_HOST) of the task is used, then the default.
    type: str
    default: unix:///var/run/docker.sock
  loopback:
    description:
      - Bring the loopback interface C(lo) up. A new namespace starts with C(lo) down, so even C(ping 127.0.0.1)
        fails until this is done.
      - V(false) leaves C(lo) as it is.
    type: bool
    default: true
  routes:
    description:
      - Routes in the namespace's main table. Routes not listed here are left alone.
      - A route is identified by its IP version, O(routes[].dst) and O(routes[].metric); if one with that identity
        exists but differs in O(routes[].via) or O(routes[].dev), it is replaced.
    type: list
    elements: dict
    suboptions:
      dst:
        description:
          - Destination network in CIDR notation with no host bits set, such as V(10.0.10.0/24), or V(default)
            (same as V(0.0.0.0/0)); V(default6) or V(::/0) for the IPv6 default route.
        type: str
        required: true
      via:
        description:
          - Gateway address, a unicast one. It must lie in a subnet of an interface in the namespace unless
            O(routes[].dev) is given.
        type: str
      dev:
        description:
          - Outgoing interface, which must exist in the namespace.
        type: str
      metric:
        description:
          - Route metric (priority), 0 to 4294967295. Lower wins.
        type: int
        default: 0
      state:
        description:
          - V(absent) removes the route with this identity.
        type: str
        choices: [present, absent]
        default: present
  sysctls:
    description:
      - Per-namespace sysctls to set inside the namespace, for example C(net.ipv4.ip_forward=1).
      - Only C(net.*) names are accepted, since other sysctls are not per network namespace. Values are compared
        as the kernel prints them, and may hold only letters, digits, spaces and C(_.:,/+-).
    type: dict
  namespaces:
    description:
      - Manage many namespaces in one task. Each element takes the keys O(name), O(state), O(path), O(pid),
        O(container), O(docker_host), O(loopback), O(routes) and O(sysctls) as documented above.
      - Mutually exclusive with O(name).
    type: list
    elements: dict
seealso:
  - module: packetlife.podnet.veth
  - module: packetlife.podnet.linux_bridge
  - name: ip-netns(8)
    description: The iproute2 manual page whose conventions this module follows.
    link: https://man7.org/linux/man-pages/man8/ip-netns.8.html
'''

EXAMPLES = r'''
- name: Step 1 of the tutorial - two namespaces
  packetlife.podnet.netns:
    namespaces:
      - name: client
      - name: server

- name: Default route in a namespace behind a bridge (step 2)
  packetlife.podnet.netns:
    name: client1
    routes:
      - dst: default
        via: 172.30.0.1

- name: Give a Docker container's namespace a name, as the tutorial's ln -s does
  packetlife.podnet.netns:
    name: web
    path: /var/run/docker/netns/1a2b3c4d5e6f

- name: The same by container name - the module asks the engine for the SandboxKey
  packetlife.podnet.netns:
    name: web
    container: web
    docker_host: unix:///var/run/docker.sock

- name: Name the namespace of a running process, like ip netns attach
  packetlife.podnet.netns:
    name: pause_demo
    pid: 4242

- name: Turn on forwarding inside a namespace acting as a router
  packetlife.podnet.netns:
    name: router
    sysctls:
      net.ipv4.ip_forward: 1

- name: Delete namespaces
  packetlife.podnet.netns:
    state: absent
    namespaces:
      - name: client
      - name: server
'''

RETURN = r'''
namespaces:
  description:
    - Each managed namespace by name, as the kernel reports it after the task (predicted in check mode).
    - V(state) is V(present) or V(absent); the other keys are there when the namespace exists.
    - V(linked_to) is there for a namespace adopted by O(path) or O(container), the file the name links to
      (for a container, its C(SandboxKey), such as V(/var/run/docker/netns/1a2b3c4d5e6f)).
  returned: always
  type: dict
  sample:
    client:
      state: present
      loopback_up: true
      interfaces:
        - {name: lo, kind: device, up: true, mtu: 65536, master: null, addresses: [127.0.0.1/8, '::1/128']}
        - {name: veth-client, kind: veth, up: true, mtu: 1500, master: null, addresses: [10.0.0.11/24]}
      routes:
        - 10.0.0.0/24 dev veth-client
actions:
  description: What the task did, or would do in check mode, one step per entry.
  returned: always
  type: list
  elements: str
  sample:
    - create netns client
    - set lo up in netns client
'''

from ansible_collections.packetlife.podnet.plugins.module_utils import _module
from ansible_collections.packetlife.podnet.plugins.module_utils._netns import ITEM_SPEC, NetnsManager


def main():
    _module.run(ITEM_SPEC, 'namespaces', 'namespaces', NetnsManager())


if __name__ == '__main__':
    main()
