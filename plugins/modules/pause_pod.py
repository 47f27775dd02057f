#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) packetlife.podnet contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: pause_pod
short_description: Run Kubernetes-style pods - a pause process holding a network namespace, attached by CNI plugins
version_added: 0.1.0
description:
  - A Kubernetes pod is, on the network side, one network namespace that all its containers share. The kubelet
    creates it with a tiny C(pause) process that does nothing but keep the namespace alive, then asks the CNI
    plugins to attach it to the pod network. Containers then join that namespace, which is why they reach each
    other over C(localhost). Steps 4 and 5 of "Life of a Packet in Kubernetes" do this by hand.
  - This module does the same without a container engine (O(backend=native)). It creates the namespace
    C(/run/netns/NAME), starts a pause process in it, runs the CNI plugins of the network (ADD) as a container
    runtime does, and starts the workload commands inside the namespace, each detached with its own log file.
  - A healthy pod is left alone (CNI CHECK from CNI version 0.4.0 on; for older configurations such as the tutorial's
    0.2.0, the interface must still hold its addresses). A pod whose pause process died, whose C(/run/netns) entry
    vanished, or whose network configuration changed is repaired by DEL with the cached result, a fresh sandbox and ADD,
    so no address reservation leaks.
  - Results are cached where libcni keeps them (C(/var/lib/cni/results)), so other CNI tools see the attachment.
author:
  - packetlife.podnet developers (@packetlife)
extends_documentation_fragment:
  - packetlife.podnet._attributes
  - packetlife.podnet._attributes.BULK
options:
  name:
    description:
      - Name of the pod. It names the network namespace C(/run/netns/NAME) and is the default CNI container ID.
      - Required unless O(pods) is given.
    type: str
  state:
    description:
      - V(present) creates the pod, repairs it, and starts missing workloads.
      - V(absent) stops the workloads, runs CNI DEL with the pod's real namespace, stops the pause process, removes
        the namespace and the cached result. Removing a pod that is gone already changes nothing.
    type: str
    choices: [present, absent]
    default: present
  backend:
    description:
      - How the sandbox is made. V(native) needs no container engine.
    type: str
    choices: [native]
    default: native
  network:
    description:
      - Name of the CNI network to attach, looked up in O(conf_dir) the way libcni does (files ending in C(.conf),
        C(.conflist) or C(.json), in lexical order, first match wins).
      - One of O(network) and O(config) is required with O(state=present).
    type: str
  config:
    description:
      - Path of the network configuration file to use instead of a lookup by name.
    type: path
  conf_dir:
    description:
      - Directory of CNI network configurations.
    type: path
    default: /etc/cni/net.d
  cni_bin_dir:
    description:
      - Directories searched for the plugin binaries, in order (the C(CNI_PATH) of the plugins).
    type: list
    elements: path
    default: [/opt/cni/bin]
  ifname:
    description:
      - Name of the pod's interface, C(CNI_IFNAME). The tutorial uses V(eth10).
    type: str
    default: eth0
  container_id:
    description:
      - The CNI container ID, C(CNI_CONTAINERID). Defaults to O(name).
    type: str
  cni_args:
    description:
      - Extra arguments passed to the plugins in C(CNI_ARGS), as key/value pairs.
    type: dict
  capability_args:
    description:
      - Capability arguments (such as C(portMappings) for the portmap plugin). Each plugin receives, under
        C(runtimeConfig), the ones it declares in its C(capabilities).
    type: dict
  workloads:
    description:
      - Processes that share the pod's network namespace, as the containers of a pod do. Each element has a
        C(name) and a C(command) (a list of arguments, or a string split like a shell would). Each is started
        detached, in its own session, with its output in C(/run/podnet/pods/NAME/WORKLOAD.log).
      - This is the exact set; a running workload that is no longer listed, or whose command changed, is stopped
        (SIGTERM, then SIGKILL after 10 seconds).
    type: list
    elements: dict
  timeout:
    description:
      - Seconds a plugin may take before it is killed and the task fails.
    type: int
    default: 30
  pods:
    description:
      - Manage many pods in one task. Each element takes the keys of the single-pod form.
      - Mutually exclusive with O(name).
    type: list
    elements: dict
seealso:
  - module: packetlife.podnet.cni_conf
  - name: CNI specification
    description: The runtime side of the CNI spec that this module implements.
    link: https://www.cni.dev/docs/spec/
'''

EXAMPLES = r'''
- name: Steps 4 and 5 of the tutorial - a pause pod on demo_br with nginx inside
  packetlife.podnet.pause_pod:
    name: pause_demo
    network: demo_br
    ifname: eth10
    cni_bin_dir: [/opt/cni/bin]
    workloads:
      - name: web
        command: [nginx, -g, "daemon off;"]
  register: pod

- name: The pod's address, as host-local reserved it
  ansible.builtin.debug:
    msg: "{{ pod.pods.pause_demo.ips[0].address }}"

- name: Remove the pod, its CNI attachment and its processes
  packetlife.podnet.pause_pod:
    name: pause_demo
    network: demo_br
    state: absent
'''

RETURN = r'''
pods:
  description:
    - Each pod by name as it is after the task (predicted in check mode, where addresses are not known yet).
  returned: always
  type: dict
  sample:
    pause_demo:
      state: present
      sandbox: running
      attached: true
      network: demo_br
      netns: /run/netns/pause_demo
      container_id: pause_demo
      ifname: eth10
      pause_pid: 4242
      ips: [{address: 10.0.10.2/24, gateway: 10.0.10.1, interface: null}]
      routes: [{dst: 0.0.0.0/0, gw: null}, {dst: 1.1.1.1/32, gw: 10.0.10.1}]
      interfaces: []
      workloads: [web]
      workload_pids: {web: 4250}
actions:
  description: What the task did, or would do in check mode, one step per entry.
  returned: always
  type: list
  elements: str
  sample:
    - create sandbox pause_demo (netns and pause process)
    - CNI ADD demo_br to pod pause_demo as eth10
    - start workload web in pod pause_demo
'''

from ansible_collections.packetlife.podnet.plugins.module_utils import _module
from ansible_collections.packetlife.podnet.plugins.module_utils._pod import ITEM_SPEC, PodManager


def main():
    _module.run(ITEM_SPEC, 'pods', 'pods', PodManager())


if __name__ == '__main__':
    main()
