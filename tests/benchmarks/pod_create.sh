#!/usr/bin/env bash
# Per-pod create time of packetlife.podnet.pause_pod against a raw netns + plugin
# ADD loop on the same lab node. Brings up a one-node lab `pbench`
# (198.18.4.0/24), runs tests/benchmarks/pod_create.yml, prints its figures and
# tears the lab down again.   Usage: tests/benchmarks/pod_create.sh [PODS]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
export PATH="$repo/.venv/bin:$PATH"
pods=${1:-20}
lab=(-e podnet_lab_name=pbench -e podnet_lab_subnet=198.18.4.0/24 -e '{"podnet_lab_nodes": ["bench1"]}')
trap 'ansible-playbook playbooks/lab_down.yml "${lab[@]}" > /dev/null' EXIT
ansible-playbook playbooks/lab_up.yml "${lab[@]}" > /dev/null
ansible-playbook -i /var/lib/podnet-lab/pbench/inventory.ini tests/benchmarks/pod_create.yml -e pods="$pods" \
    | sed -n '/Print the figures/,/PLAY RECAP/p' | grep -E '^ +- ' | sed 's/^ *- //'
