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
  - This module does the same. With O(backend=native) (the default) it needs no container engine. It creates the namespace
    C(/run/netns/NAME), starts a pause process in it, runs the CNI plugins of the network (ADD) as a container
    runtime does, and starts the workload commands inside the namespace, each detached with its own log file.
  - With O(backend=docker) it does what the tutorial does with Docker. It runs the pause image with
    C(--network none) as the container C(podnet-pause-NAME), makes C(/run/netns/NAME) a symbolic link to the
    container's network namespace (the C(SandboxKey) of C(docker inspect), the tutorial's C(ln -s) step), runs
    the CNI plugins on it, and runs each workload from its image as the container C(podnet-NAME-WORKLOAD) with
    C(--network container:podnet-pause-NAME), so it shares the pod's namespace. The module speaks to the engine's
    HTTP API on its unix socket (O(docker_host)); it needs no Docker SDK and never pulls an image.
  - With O(backend=auto) a new pod gets V(docker) when a Docker engine answers at O(docker_host), and V(native)
    otherwise; an existing pod keeps the backend it was made with. The result says which one was used.
  - A healthy pod is left alone. It is healthy while its sandbox runs and its interface holds the addresses of the
    cached CNI result, which one netlink read tells without running a plugin; only when the interface lacks them is
    CNI CHECK asked (from CNI version 0.4.0 on), in case the result's addresses sit on another interface. A pod whose
    pause process died, whose C(/run/netns) entry vanished, whose interface lost its addresses, or whose network
    configuration changed is repaired by DEL with the cached result, a fresh sandbox and ADD, so no address
    reservation leaks. With the docker backend the same holds for a pause container that exited or was removed
    behind the module's back.
  - "Faults are repaired the same way: a pod whose cached result is missing or unreadable (a run killed after ADD,
    before the cache write; a truncated file) gets DEL with the network's current configuration; a pause process
    whose record was lost is found by its command line and stopped; what a killed workload left in its session
    (such as nginx's workers) is stopped before it starts again; after DEL of an attachment whose interface was gone,
    the rules the plugins left with the attachment's comment
    (the network name and container ID, as in C(name: NET id: ID)) are removed. A plugin
    that runs longer than O(timeout) is killed with everything it started, and DEL still runs."
  - Each pod is locked by name and by container ID (files in C(/run/podnet/locks)) from before it is read until the
    task ends, in one order for all tasks, so two tasks never work on one pod or one attachment at the same time;
    the later one waits up to 600 seconds, then sees what the first one made.
  - Results are cached where libcni keeps them (C(/var/lib/cni/results)), so other CNI tools see the attachment.
  - A Linux bridge holds at most 1023 ports. The task fails before changing anything when the pods it would attach
    to a bridge (the C(bridge) of a C(bridge) plugin in the network, C(cni0) if not named) would exceed that with the
    ports the bridge already has; pods that the same task removes are not counted as freeing ports.
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
      - V(absent) stops the workloads, runs CNI DEL with the pod's real namespace, stops the pause process (or
        removes the pause container), removes the namespace name and the cached result. Removing a pod that is gone
        already changes nothing.
      - An existing pod is removed with the backend it was made with, as its record in C(/run/podnet/pods) says.
        Without a record (after a reboot), give the backend it had, so that O(backend=docker) finds its containers
        by their labels.
    type: str
    choices: [present, absent]
    default: present
  backend:
    description:
      - How the sandbox and the workloads are made.
      - V(native) needs no container engine. The sandbox is a namespace of the module's own held by a small
        Python pause program; workloads are commands.
      - V(docker) needs a Docker engine on the target (API 1.24 or newer; 1.41 is spoken when the engine allows,
        as Debian's Docker 20.10 does) and the image O(pause_image) in its local store. The sandbox is a pause
        container; workloads are containers made from their O(workloads[].image). All of the module's containers
        carry the labels C(packetlife.podnet.pod) and C(packetlife.podnet.role), which is how they are found again.
      - V(auto) chooses V(docker) for a new pod when a Docker engine answers at O(docker_host), else V(native);
        an existing pod keeps its backend. The workloads must suit the backend chosen.
      - Changing the backend of an existing pod recreates it (a new address).
    type: str
    choices: [native, docker, auto]
    default: native
  pause_image:
    description:
      - The image of the pause container (backend V(docker) only), which must be in the engine's local image store
        (it is never pulled). Defaults to V(podnet/pause:latest) when not given.
      - The collection builds that image from its own C source (a static binary that sleeps in the system call C(pause), reaps
        its children and leaves on SIGTERM) with C(images/build.sh) in the collection's directory.
      - Only new sandboxes use a changed image; a healthy pod keeps its pause container, as a kubelet does.
    type: str
  docker_host:
    description:
      - The Docker engine to use with backend V(docker) or V(auto), as a C(unix://) URL of its API socket.
        Only unix sockets are supported, since the engine must run on the target itself, whose namespaces it makes.
      - If not given, the environment variable C(DOCKER_HOST) of the task is used, as C(docker) and
        community.docker do, and then the default.
      - An existing pod stays with the engine it was made with, as its record says.
    type: str
    default: unix:///var/run/docker.sock
  network:
    description:
      - Name of the CNI network to attach, looked up in O(conf_dir) the way libcni does (files ending in C(.conf),
        C(.conflist) or C(.json), in lexical order, first match wins).
      - Without O(network) and O(config) the pod gets no CNI network, as C(docker run --network none). Its
        namespace has only the loopback interface, and you wire it yourself, for example with
        M(packetlife.podnet.veth) (step 3 of the tutorial, role C(port_forward)). Such a pod counts as attached
        while its sandbox runs.
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
      - What runs in the pod and shares its network namespace, as the containers of a pod do; they reach each other
        on C(localhost).
      - With backend V(native) each element is a process started detached, in its own session, with its output in
        C(/run/podnet/pods/NAME/WORKLOAD.log).
      - With backend V(docker) each element is the container C(podnet-NAME-WORKLOAD), made from O(workloads[].image)
        with C(--network container:ID) of the pause container, its output in C(docker logs).
      - This is the exact set. A workload that is no longer listed is stopped (SIGTERM, then SIGKILL after 10 seconds)
        and its container removed. A workload whose command or O(workloads[].user) changed is replaced, and so is a
        container whose image reference changed or now names another image (one rebuilt under the same tag). A workload that ended is
        started again (its old container removed first).
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - Name of the workload, unique in the pod. With backend V(docker) it is part of a container name, so it may
            only hold letters, digits, C(_), C(.) and C(-).
        type: str
        required: true
      command:
        description:
          - The command, as a list of arguments or a string split the way a shell would split it.
          - Required with backend V(native). With backend V(docker) it replaces the image's C(CMD) (the image's
            C(ENTRYPOINT) stays); leave it out to run the image's own command.
        type: raw
      image:
        description:
          - Backend V(docker) only, and required there. The image to run, such as V(podnet/web:latest) or
            V(podnet/web) (V(:latest) is implied) or an image ID; it must be in the engine's local image store,
            since images are never pulled.
        type: str
      user:
        description:
          - The user the workload runs as, in the forms of C(docker run --user) - V(NAME), V(UID), V(NAME:GROUP) or
            V(UID:GID) (names and numbers may be mixed). Without it the workload runs as the module does (root).
          - With backend V(native) (and V(auto), whichever backend it chooses) the user and group are looked up on the
            target before anything changes; a name it does not know fails the task naming this option. Without a
            group the process gets the user's primary group and the groups the target's group database lists the
            user in; with a group it gets that group alone. A UID that is not in the user database needs a group.
            The process is started directly as that user and groups (no C(su), no shell); this needs Python 3.9 or
            newer on the target, and is refused on Python 3.8. HOME, USER and LOGNAME are set for the user. Its log
            file stays root's; the process writes to it through the descriptor it inherits.
          - With backend V(docker) it is the container's C(User), which the engine resolves in the image's own
            C(/etc/passwd) and C(/etc/group).
          - A workload whose user changed is restarted (native) or its container replaced (docker).
        type: str
  timeout:
    description:
      - Seconds a plugin may take before it is killed and the task fails.
    type: int
    default: 30
  pods:
    description:
      - Manage many pods in one task. Each element takes the keys of the single-pod form.
      - Pods of backend V(native) are made, repaired and removed several at a time (as many as the target has
        processors, two to four), each pod's steps in their order; docker pods one after the other. If any step
        fails, what the task made is removed again.
      - Mutually exclusive with O(name).
    type: list
    elements: dict
seealso:
  - module: packetlife.podnet.cni_conf
  - name: CNI specification
    description: The runtime side of the CNI spec that this module implements.
    link: https://www.cni.dev/docs/spec/
  - name: Docker Engine API
    description: The HTTP API the docker backend speaks.
    link: https://docs.docker.com/reference/api/engine/
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

- name: Step 3 of the tutorial - a web container with no network, wired to a bridge by hand
  packetlife.podnet.pause_pod:
    name: web
    workloads:
      - name: nginx
        command: [nginx, -g, "daemon off;"]

- name: Its interface, a veth pair whose host end goes onto the bridge
  packetlife.podnet.veth:
    name: eth0
    netns: web
    addresses: [172.18.0.3/24]
    peer: {name: veth-web}

# The docker backend needs the pause image (and any workload image) in the engine's
# local store; the collection builds podnet/pause and podnet/web from source with
#   bash images/build.sh            (in the collection's directory)
- name: The tutorial's pod as Docker containers - podnet-pause-web_pod holds the namespace
  packetlife.podnet.pause_pod:
    name: web_pod
    backend: docker
    network: demo_br
    ifname: eth10
    workloads:
      - name: web
        image: podnet/web:latest
      - name: probe
        image: podnet/web:latest
        command: [sh, -c, "wget -q -O - http://127.0.0.1/ && exec sleep 3600"]
  register: web_pod

- name: The pod's namespace is the pause container's, under the tutorial's name
  ansible.builtin.debug:
    msg: "{{ web_pod.pods.web_pod.netns }} is the namespace of container {{ web_pod.pods.web_pod.pause_container }}"

- name: Use Docker when the target has an engine, else the native backend
  packetlife.podnet.pause_pod:
    name: any_pod
    backend: auto
    docker_host: unix:///run/docker.sock
    network: demo_br
  register: any_pod

- name: Remove the docker pod - workload containers, CNI DEL, pause container, /run/netns link
  packetlife.podnet.pause_pod:
    name: web_pod
    backend: docker
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
      backend: native
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
  contains:
    backend:
      description:
        - The backend that made the pod, V(native) or V(docker) (what V(auto) chose). Missing when the pod is absent.
      type: str
      sample: docker
    pause_container:
      description:
        - Backend V(docker) only. ID of the pause container C(podnet-pause-NAME); V(null) in check mode for a sandbox
          still to be made.
      type: str
      sample: 3f1c0d6e2b7a4c9d8e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5
    workload_containers:
      description:
        - Backend V(docker) only. ID of each workload's container by workload name.
      type: dict
      sample: {web: 9a8b7c6d5e4f30211f2e3d4c5b6a79880796a5b4c3d2e1f00f1e2d3c4b5a6978}
    docker_host:
      description:
        - Backend V(docker) only. The engine that holds the pod's containers.
      type: str
      sample: unix:///var/run/docker.sock
    pause_pid:
      description:
        - Process ID of the pause process (backend V(native)) or of the pause container's process (V(docker)), as the
          host sees it; V(null) in check mode for a sandbox still to be made.
      type: int
      sample: 4242
    workload_pids:
      description:
        - Process ID of each running workload by name (for V(docker), the container's main process).
      type: dict
      sample: {web: 4250}
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
