#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: netns_info
short_description: Read a host's namespaces, links, bridges, routes, pods and podnet firewall rules in one call
version_added: 0.1.0
description:
  - Gathers the container networking of a host, as the tutorial's C(ip netns), C(ip link), C(ip addr), C(ip route),
    C(bridge link) and C(iptables -t nat -S) would show it, in one structured result. Nothing is changed.
  - Reads the namespace the module runs in (the host's own) and every named namespace in C(/run/netns), or only
    those in O(namespaces). Each is read with one netlink dump of links, addresses and routes, taken from inside the
    namespace by the module itself (it switches its own network namespace with C(setns(2)) and comes back; it never
    runs C(ip)).
  - The peer of each veth (its name and namespace) is resolved across all namespaces read, so both ends of every
    pair are known.
  - Lists the pods that M(packetlife.podnet.pause_pod) made (its records in C(/run/podnet/pods)) with the addresses
    of their CNI results (libcni's cache in C(/var/lib/cni/results)).
  - With O(firewall), lists the firewall rules the collection owns in each namespace, the iptables rules whose
    comment starts with C(podnet) (C(podnet masquerade BRIDGE) from M(packetlife.podnet.linux_bridge),
    C(podnet dnat NAME) from M(packetlife.podnet.dnat_rule)) and the rules of the nftables table C(ip podnet), and
    sums them up as port forwards (host port to destination) and masquerades.
author:
  - packetlife.podnet developers (@packetlife)
attributes:
  check_mode:
    support: full
    description:
      - The module only reads; check mode returns the same result.
  diff_mode:
    support: none
    description:
      - Nothing changes, so there is no diff.
  platform:
    support: full
    platforms: linux
    description:
      - Runs on the target with Python 3.8 or later, pyroute2 and netaddr.
options:
  namespaces:
    description:
      - Named namespaces to read, besides the host's own. A name that does not exist is returned with
        RV(netns_info.namespaces.NAME.exists=false).
      - If not given, every name in C(/run/netns) is read.
    type: list
    elements: str
  firewall:
    description:
      - Read the firewall rules the collection owns in every namespace read, with C(iptables-save) and C(nft).
      - V(false) skips them (no subprocess is started); RV(netns_info.firewall) is then empty.
    type: bool
    default: true
  pods:
    description:
      - Read the pods pause_pod recorded. V(false) leaves RV(netns_info.pods) empty.
    type: bool
    default: true
notes:
  - Only IPv6 link-local addresses and routes are left out, since the kernel adds them to every interface that is up.
  - Rules without a C(podnet) comment are never listed, whichever program made them (Docker, the CNI plugins,
    kube-proxy).
requirements:
  - pyroute2 (Debian package C(python3-pyroute2), 0.7 or later)
  - netaddr (Debian package C(python3-netaddr))
seealso:
  - module: packetlife.podnet.netns
  - module: packetlife.podnet.veth
  - module: packetlife.podnet.linux_bridge
  - module: packetlife.podnet.pause_pod
  - module: packetlife.podnet.dnat_rule
'''

EXAMPLES = r'''
- name: Read everything on the host
  packetlife.podnet.netns_info:
  register: podnet

- name: Show where veth-client's other end is
  ansible.builtin.debug:
    msg: "{{ podnet.netns_info.namespaces.client.links['veth-client'].peer }}"

- name: Read two namespaces only, without the firewall
  packetlife.podnet.netns_info:
    namespaces: [client1, server1]
    firewall: false
  register: podnet

- name: The ports of bridge1 on the host
  ansible.builtin.debug:
    msg: "{{ podnet.netns_info.host.bridges.bridge1.ports }}"

- name: Every port forward of the host, as "tcp 80 -> 172.18.0.2:80"
  ansible.builtin.debug:
    msg: "{{ item.value.protocol }} {{ item.value.port }} -> {{ item.value.destination }}"
  loop: "{{ podnet.netns_info.firewall.dnat | dict2items }}"
'''

RETURN = r'''
netns_info:
  description: The host's container networking.
  returned: always
  type: dict
  contains:
    host:
      description:
        - The namespace the module runs in (the host's own), with the keys described for RV(netns_info.namespaces)
          except RV(netns_info.namespaces.NAME.linked_to).
      type: dict
      sample:
        exists: true
        links:
          bridge1: {name: bridge1, index: 5, kind: bridge, mtu: 1500, up: true, master: null,
                    addresses: [172.30.0.1/24], stp: false}
          client1-veth-br: {name: client1-veth-br, index: 7, kind: veth, mtu: 1500, up: true, master: bridge1,
                            addresses: [], peer: {netns: client1, name: client1-veth}}
        bridges:
          bridge1: {addresses: [172.30.0.1/24], up: true, stp: false, ports: [client1-veth-br]}
        routes: [172.30.0.0/24 dev bridge1]
        ip_forward: true
        firewall:
          iptables:
            nat: ['-A POSTROUTING -s 172.30.0.0/24 ! -o bridge1 -m comment --comment "podnet masquerade bridge1" -j MASQUERADE']
            filter: []
          nftables: {}
    namespaces:
      description:
        - Each named namespace read, by name.
      type: dict
      contains:
        NAME:
          description: One namespace. Only RV(netns_info.namespaces.NAME.exists) is there when it does not exist.
          type: dict
          contains:
            exists:
              description:
                - Whether C(/run/netns/NAME) is a network namespace. V(false) for a name in O(namespaces) that is
                  missing, and for a stale file in C(/run/netns) (one whose namespace is gone).
              type: bool
            linked_to:
              description: The file C(/run/netns/NAME) links to (a Docker C(SandboxKey), say), or null when it is a mount.
              type: str
            links:
              description: The interfaces of the namespace, by name.
              type: dict
              contains:
                name:
                  description: Interface name.
                  type: str
                index:
                  description: Interface index in its namespace.
                  type: int
                kind:
                  description: V(veth), V(bridge), V(device) (no link kind, such as C(lo)), or another link kind.
                  type: str
                mtu:
                  description: MTU.
                  type: int
                up:
                  description: Whether the interface is administratively up.
                  type: bool
                master:
                  description: The bridge the interface is a port of, or null.
                  type: str
                addresses:
                  description: IPv4 and IPv6 addresses in CIDR notation, sorted; IPv6 link-local ones left out.
                  type: list
                  elements: str
                peer:
                  description:
                    - Veth only. The other end, as V(name) and V(netns) (null for the host's namespace).
                    - Null when the other end lies in a namespace not read (another host's, a namespace without a
                      name, or one not listed in O(namespaces)).
                  type: dict
                  returned: for kind veth
                stp:
                  description: Bridge only. Whether the spanning tree protocol is on.
                  type: bool
                  returned: for kind bridge
            bridges:
              description: The bridges of the namespace, by name, with their addresses, up state, stp and ports.
              type: dict
              contains:
                ports:
                  description: Names of the interfaces whose master is this bridge, sorted.
                  type: list
                  elements: str
            routes:
              description: Routes of the main table, as C(ip route) prints them; IPv6 link-local routes left out.
              type: list
              elements: str
            ip_forward:
              description: Whether C(net.ipv4.ip_forward) is on in the namespace.
              type: bool
            firewall:
              description:
                - With O(firewall) only. The rules the collection owns in the namespace.
                - V(iptables.nat) and V(iptables.filter) are lines as C(iptables-save) prints them, whose comment starts
                  with C(podnet).
                - V(nftables) holds the rules of table C(ip podnet) by chain, as C(nft list) prints them without the
                  handles; empty when the table does not exist.
              type: dict
              returned: when O(firewall=true)
      sample:
        client:
          exists: true
          linked_to: null
          links:
            lo: {name: lo, index: 1, kind: device, mtu: 65536, up: true, master: null, addresses: [127.0.0.1/8, '::1/128']}
            veth-client: {name: veth-client, index: 2, kind: veth, mtu: 1500, up: true, master: null,
                          addresses: [10.0.0.11/24], peer: {netns: server, name: veth-server}}
          bridges: {}
          routes: [10.0.0.0/24 dev veth-client, '::1 dev lo metric 256']
          ip_forward: false
          firewall: {iptables: {nat: [], filter: []}, nftables: {}}
    pods:
      description:
        - The pods M(packetlife.podnet.pause_pod) recorded, by name (also the name of the pod's namespace).
        - Empty with O(pods=false).
      type: dict
      contains:
        backend:
          description: V(native) or V(docker).
          type: str
        network:
          description: The CNI network the pod is attached to, or null for a pod without one.
          type: str
        netns:
          description: The pod's namespace name, as in RV(netns_info.namespaces).
          type: str
        container_id:
          description: The CNI container ID of the attachment.
          type: str
        ifname:
          description: The pod's CNI interface.
          type: str
        ips:
          description: The addresses of the CNI result, each with V(address) (CIDR), V(gateway) and V(interface).
          type: list
          elements: dict
        routes:
          description: The routes of the CNI result, each with V(dst) and V(gw).
          type: list
          elements: dict
        workloads:
          description: Names of the workloads the record lists.
          type: list
          elements: str
        pause_pid:
          description: Process ID of the native pause process, or null.
          type: int
        running:
          description: Whether the native pause process still runs; null for the docker backend (the engine is not asked).
          type: bool
      sample:
        pause_demo:
          backend: native
          network: demo_br
          netns: pause_demo
          container_id: pause_demo
          ifname: eth10
          ips: [{address: 10.0.10.2/24, gateway: 10.0.10.1, interface: null}]
          routes: [{dst: 0.0.0.0/0, gw: null}, {dst: 1.1.1.1/32, gw: 10.0.10.1}]
          workloads: [web]
          pause_pid: 4242
          running: true
    firewall:
      description: The owned rules of all namespaces read, summed up. Empty with O(firewall=false).
      type: dict
      contains:
        dnat:
          description:
            - The port forwards, keyed by name (V(NETNS/NAME) for one in a named namespace), as
              M(packetlife.podnet.dnat_rule) keys them.
            - V(protocol), V(port) (V(80) or a range V(8080-8090)), V(destination) (V(IP) or V(IP:PORT)),
              V(match_destination) and V(in_interface) come from the DNAT rule; V(rules) lists every rule of the
              name as the command that makes it.
          type: dict
          sample:
            web: {name: web, netns: null, backend: iptables, protocol: tcp, port: '80', destination: 172.18.0.2:80,
                  match_destination: null, in_interface: null,
                  rules: ['iptables -t nat -A PREROUTING -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 80
                           -m comment --comment "podnet dnat web" -j DNAT --to-destination 172.18.0.2:80']}
        masquerade:
          description:
            - The masquerades of bridges' subnets, keyed by bridge name (V(NETNS/BRIDGE) in a named namespace), with
              V(bridge), V(netns), V(backend), V(sources) (the masqueraded subnets) and V(rules).
          type: dict
          sample:
            bridge1: {bridge: bridge1, netns: null, backend: iptables, sources: [172.30.0.0/24],
                      rules: ['iptables -t nat -A POSTROUTING -s 172.30.0.0/24 ! -o bridge1 -m comment
                               --comment "podnet masquerade bridge1" -j MASQUERADE']}
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.packetlife.podnet.plugins.module_utils import _info, _module, _netlink, _validate


def main():
    module = AnsibleModule(
        argument_spec=dict(
            namespaces=dict(type='list', elements='str'),
            firewall=dict(type='bool', default=True),
            pods=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    if not _module.HAS_NETADDR:
        module.fail_json(msg=missing_required_lib('netaddr'), exception=_module.NETADDR_ERROR)
    if not _netlink.HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib('pyroute2'))
    names = module.params['namespaces']
    try:
        if names is not None:
            names = [_validate.netns_name(name, 'namespaces[%d]' % i) for i, name in enumerate(names)]
            names = sorted(set(names))
    except _validate.ValidationError as exc:
        module.fail_json(msg=str(exc))
    kernel = _netlink.Kernel()
    try:
        info, warnings = _info.gather(kernel, names, firewall=module.params['firewall'], pods=module.params['pods'])
    except (OSError, _netlink.KernelError) as exc:
        module.fail_json(msg='reading the network state failed: %s' % exc)
    finally:
        kernel.close()
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, netns_info=info)


if __name__ == '__main__':
    main()
