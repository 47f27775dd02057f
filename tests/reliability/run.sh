#!/usr/bin/env bash
# The reliability and security suite (make reliability, part of make test):
#
#   bash tests/reliability/run.sh
#
# On a two-node virtual lab named prel (198.18.10.0/24) with the tutorial
# converged by playbooks/site.yml, in this order:
#   bad_input.yml        bad input to every module and role: refused, field named, nothing changed
#   faults_modules.yml   faults in CNI work and the xtables lock, each survived
#   faults_tutorial.sh   faults in the tutorial behind the collection's back, each repaired by the next converge
#   security.yml         who owns what, non-root workloads, DNAT to local destinations only
#   concurrency.sh       two runs of 50 pods at once on one node; two runs on the same pods at once
# then the tutorial's teardown and its residue check, the lab's removal, and a
# short soak (soak.sh --cycles SOAK_CYCLES, default 3; the long one is make soak)
# on a lab of its own (psoakt, 198.18.11.0/24). Prints every part's count line and a summary
# (tests/output/reliability/summary.txt); exits non-zero at the first failure.
# Every part's output is in tests/output/reliability/.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
export PATH=$repo/.venv/bin:$PATH
logs=$repo/tests/output/reliability
lab_name=prel
lab=(-e "podnet_lab_name=$lab_name" -e podnet_lab_subnet=198.18.10.0/24 -e '{"podnet_lab_nodes": ["prel1", "prel2"]}')
inventory=/var/lib/podnet-lab/$lab_name/inventory.ini
counts=$logs/counts.txt
soak_cycles=${SOAK_CYCLES:-3}
rm -rf "$logs"
mkdir -p "$logs"
: > "$counts"

# Run one part quietly, its output in a log of its own; on failure show the end of it.
part() {
    local name=$1 log=$logs/$1.log started=$SECONDS
    shift
    if ! "$@" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "reliability: $name FAILED (log: $log)" >&2
        return 1
    fi
    echo "reliability: $name passed in $((SECONDS - started)) s"
}

tear_down() {
    local status=$?
    trap - EXIT
    echo "reliability: taking lab $lab_name down"
    part lab_down ansible-playbook playbooks/lab_down.yml "${lab[@]}" || status=1
    exit "$status"
}
trap tear_down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$SECONDS
part lab_up ansible-playbook playbooks/lab_up.yml "${lab[@]}"
part converge ansible-playbook -i "$inventory" playbooks/site.yml
part bad_input ansible-playbook -i "$inventory" tests/reliability/bad_input.yml -e podnet_counts_file="$counts"
part faults_modules ansible-playbook -i "$inventory" tests/reliability/faults_modules.yml -e podnet_counts_file="$counts"
part faults_tutorial tests/reliability/faults_tutorial.sh "$lab_name"
tail -n 1 "$logs/faults_tutorial.log" >> "$counts"
part security ansible-playbook -i "$inventory" tests/reliability/security.yml -e podnet_counts_file="$counts"
part concurrency tests/reliability/concurrency.sh "$inventory"
grep -E 'distinct IPs|same container IDs|removal by' "$logs/concurrency.log" >> "$counts"
part teardown ansible-playbook -i "$inventory" playbooks/tutorial_down.yml
part residue ansible-playbook -i "$inventory" playbooks/teardown.yml --tags residue
echo "residue after the suite: none on $(grep -c '^prel[0-9]' <(sed -n '/^\[podnet_nodes\]/,/^$/p' "$inventory")) nodes (playbooks/teardown.yml --tags residue)" >> "$counts"
trap - EXIT
part lab_down ansible-playbook playbooks/lab_down.yml "${lab[@]}"
# A lab and logs of its own, so that a long soak (make soak, lab psoak) may run meanwhile.
part soak env PODNET_SOAK_LAB=psoakt PODNET_SOAK_SUBNET=198.18.11.0/24 PODNET_SOAK_LOGS="$logs/soak" \
    tests/reliability/soak.sh --cycles "$soak_cycles"
grep -E '^soak: ([0-9]+ cycles|per cycle)' "$logs/soak.log" >> "$counts"

{
    echo "reliability suite: all parts passed in $((SECONDS - start)) s"
    sed 's/^/  /' "$counts"
} | tee "$logs/summary.txt"
