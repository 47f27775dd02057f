#!/usr/bin/env bash
# Integration tests of packetlife.podnet's modules against the real kernel, on a
# one-node virtual lab named pint (198.18.2.0/24):
#
#   bash tests/integration/run.sh [-e targets=veth] [-v] [other ansible-playbook options]
#
# PODNET_IT_LAB and PODNET_IT_SUBNET name another lab, so that two runs on one
# machine do not share one: PODNET_IT_LAB=pintn PODNET_IT_SUBNET=198.18.7.0/24.
# The name must start with pint (tests/residue_check.sh looks for that prefix)
# and the subnet must not be another lab's.
#
# Brings the lab up, runs tests/integration/run.yml on it, and always tears the
# lab down again, whatever happened. Exits non-zero if anything failed. The lab's
# own output goes to tests/output/integration/ (tests/output/integration/LAB/ for
# another lab) and is shown only on failure.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

ansible_playbook=$repo/.venv/bin/ansible-playbook
logs=$repo/tests/output/integration
lab_name=${PODNET_IT_LAB:-pint}
lab_subnet=${PODNET_IT_SUBNET:-198.18.2.0/24}
if [[ ! $lab_name =~ ^pint[a-z0-9]{0,4}$ ]]; then
    echo "integration: PODNET_IT_LAB must be pint followed by up to 4 of [a-z0-9], got '$lab_name'" >&2
    exit 2
fi
if [[ ! $lab_subnet =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/[0-9]+$ ]]; then
    echo "integration: PODNET_IT_SUBNET must be an IPv4 network in CIDR notation, got '$lab_subnet'" >&2
    exit 2
fi
inventory=/var/lib/podnet-lab/$lab_name/inventory.ini
[[ $lab_name == pint ]] || logs=$logs/$lab_name
lab=(-e "podnet_lab_name=$lab_name" -e "podnet_lab_subnet=$lab_subnet" -e "{\"podnet_lab_nodes\": [\"${lab_name}1\"]}")
mkdir -p "$logs"

# Run a lab playbook quietly; on failure show its log.
lab_playbook() {
    local playbook=$1 log=$logs/${1%.yml}.log
    if ! "$ansible_playbook" "playbooks/$playbook" "${lab[@]}" >"$log" 2>&1; then
        cat "$log" >&2
        echo "integration: playbooks/$playbook failed (log: $log)" >&2
        return 1
    fi
}

tear_down() {
    local status=$?
    trap - EXIT
    echo "integration: tearing down lab $lab_name"
    lab_playbook lab_down.yml || status=1
    exit "$status"
}
trap tear_down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$SECONDS
echo "integration: bringing up lab $lab_name ($lab_subnet)"
lab_playbook lab_up.yml

ANSIBLE_STDOUT_CALLBACK=podnet_quiet \
ANSIBLE_CALLBACK_PLUGINS=$repo/tests/integration/callback_plugins \
    "$ansible_playbook" -i "$inventory" tests/integration/run.yml "$@"

echo "integration: passed in $((SECONDS - start)) s"
