#!/usr/bin/env bash
# Faults in the tutorial built by playbooks/site.yml, each injected on the first
# node of lab LAB behind the collection's back, then repaired by the next
# converge: site.yml must change something on that node, verify.yml must pass,
# and the node must have exactly the shape it had before the fault
# (faults/shape.sh: namespaces, links and their state, bridge ports, addresses,
# IPAM reservations, cache entries, records, rules, processes).
#
#   tests/reliability/faults_tutorial.sh LAB      (the lab up and site.yml converged)
#
# Prints one line per fault and a count; exits non-zero at the first fault not repaired.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
export PATH=$repo/.venv/bin:$PATH
lab=${1:?usage: $0 LAB}
labdir=/var/lib/podnet-lab/$lab
inventory=$labdir/inventory.ini
logs=$repo/tests/output/reliability
mkdir -p "$logs"
node=$(awk '/^\[podnet_nodes\]/{getline; print $1; exit}' "$inventory")
address=$(awk -v n="$node" '$1 == n {sub(/.*ansible_host=/, ""); print $1; exit}' "$inventory")
node_ssh=(ssh -i "$labdir/id_ed25519" -o UserKnownHostsFile="$labdir/known_hosts" -o StrictHostKeyChecking=yes
    -o IdentitiesOnly=yes -o BatchMode=yes "root@$address")

shape() { "${node_ssh[@]}" bash -s < tests/reliability/faults/shape.sh; }

# run PLAYBOOK WHY: run a playbook on the lab into $log, or stop saying WHY it failed.
run() {
    if ! ansible-playbook -i "$inventory" "playbooks/$1" >>"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "faults (tutorial): $1 failed $2 (log: $log)" >&2
        exit 1
    fi
}

# name|command run on the node to inject the fault
faults=(
    "the pause process of CNI pod pause_demo killed|kill -KILL \$(pgrep -f 'pause[.]py pause_demo\$')"
    "the workload nginx of pod web killed (its workers stay)|kill -KILL \$(python3 -c 'import json; print(json.load(open(\"/run/podnet/pods/web/state.json\"))[\"workloads\"][0][\"pid\"])')"
    "the /run/netns entry of pod pause_demo removed, its CNI cache kept (a reboot)|umount /run/netns/pause_demo && rm /run/netns/pause_demo"
    "the veth end veth-client deleted in netns client|ip -n client link del veth-client"
    "the bridge bridge1 deleted|ip link del bridge1"
    "the host end of pod pause_demo's CNI veth deleted|ip link del \$(ip -o link | awk -F': ' -v i=\$(ip -n pause_demo -o link show eth10 | sed -E 's/.*@if([0-9]+).*/\\1/') '\$1 == i {sub(/@.*/, \"\", \$2); print \$2}')"
    "bridge1 set down and veth-server's address flushed|ip link set bridge1 down && ip -n server addr flush dev veth-server"
    "the owned DNAT rule deleted|iptables-save -t nat | grep -v -- '-A PREROUTING .*podnet dnat web' | iptables-restore -T nat"
    "the owned DNAT rule edited to another destination|iptables-save -t nat | sed -E '/podnet dnat web/s/--to-destination [0-9.:]+/--to-destination 172.18.0.99:80/' | iptables-restore -T nat"
    "the owned masquerade rule of bridge1 deleted|iptables-save -t nat | grep -v 'podnet masquerade bridge1' | iptables-restore -T nat"
)

echo "faults (tutorial): node $node ($address) of lab $lab"
before=$(shape)
count=0
for fault in "${faults[@]}"; do
    name=${fault%%|*}
    command=${fault#*|}
    log=$logs/fault-$((count + 1)).log
    if ! "${node_ssh[@]}" "$command" >"$log" 2>&1; then
        cat "$log" >&2
        echo "faults (tutorial): could not inject: $name" >&2
        exit 1
    fi
    broken=$(shape)
    if [[ $broken == "$before" ]]; then
        echo "faults (tutorial): injecting '$name' changed nothing the shape shows" >&2
        exit 1
    fi
    run site.yml "after: $name"
    changed=$(sed -nE "s/^$node +: .* changed=([0-9]+) .*/\\1/p" "$log" | tail -n 1)
    if [[ ${changed:-0} == 0 ]]; then
        echo "faults (tutorial): site.yml changed nothing on $node after: $name (log: $log)" >&2
        exit 1
    fi
    run verify.yml "after the repair of: $name"
    after=$(shape)
    if [[ $after != "$before" ]]; then
        diff <(printf '%s\n' "$before") <(printf '%s\n' "$after") >&2 || true
        echo "faults (tutorial): the node's shape differs after the repair of: $name" >&2
        exit 1
    fi
    count=$((count + 1))
    echo "  repaired ($changed changes), verified, shape as before: $name"
done
echo "faults (tutorial): $count injected, $count repaired by the next converge, verify.yml passed after each, 0 leaks"
