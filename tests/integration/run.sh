#!/usr/bin/env bash
# Integration tests of packetlife.podnet's modules against the real kernel, on a
# one-node virtual lab named pint (198.18.2.0/24):
#
#   bash tests/integration/run.sh [-e targets=veth] [-v] [other ansible-playbook options]
#
# Brings the lab up, runs tests/integration/run.yml on it, and always tears the
# lab down again, whatever happened. Exits non-zero if anything failed. The lab's
# own output goes to tests/output/integration/ and is shown only on failure.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

ansible_playbook=$repo/.venv/bin/ansible-playbook
logs=$repo/tests/output/integration
inventory=/var/lib/podnet-lab/pint/inventory.ini
lab=(-e podnet_lab_name=pint -e podnet_lab_subnet=198.18.2.0/24 -e '{"podnet_lab_nodes": ["pint1"]}')
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
    echo "integration: tearing down lab pint"
    lab_playbook lab_down.yml || status=1
    exit "$status"
}
trap tear_down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$SECONDS
echo "integration: bringing up lab pint"
lab_playbook lab_up.yml

ANSIBLE_STDOUT_CALLBACK=podnet_quiet \
ANSIBLE_CALLBACK_PLUGINS=$repo/tests/integration/callback_plugins \
    "$ansible_playbook" -i "$inventory" tests/integration/run.yml "$@"

echo "integration: passed in $((SECONDS - start)) s"
