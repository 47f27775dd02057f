#!/usr/bin/env bash
# Benchmark 1 and 2 of issue 6: the whole tutorial on a two-node lab (pbench2,
# 198.18.4.0/24, torn down afterwards) built three ways, on the same machine in
# one run so that ratios hold:
#   collection  playbooks/site.yml: fresh, rerun, rerun in check mode; teardown.yml
#   raw         the tutorial's own commands, one SSH call per node (the floor)
#   naive       the same commands as ansible.builtin.shell + loop, one item each
# Prints a table and writes bench/output/tutorial.json.   Usage: bench/run.sh
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export PATH="$repo/.venv/bin:$PATH"
out=$repo/bench/output
mkdir -p "$out"
lab=(-e podnet_lab_name=pbench -e podnet_lab_subnet=198.18.4.0/24 -e '{"podnet_lab_nodes": ["controlplane", "node01"]}')
inv=/var/lib/podnet-lab/pbench/inventory.ini
trap 'ansible-playbook playbooks/lab_down.yml "${lab[@]}" > "$out/lab_down.log" 2>&1' EXIT
ansible-playbook playbooks/lab_up.yml "${lab[@]}" > "$out/lab_up.log" 2>&1

declare -A seconds
timed() {  # NAME COMMAND...: run, record wall seconds, fail loudly
    local name=$1 start end
    shift
    start=$(date +%s.%N)
    if ! "$@" > "$out/$name.log" 2>&1; then
        echo "bench: $name failed, see $out/$name.log" >&2
        exit 1
    fi
    end=$(date +%s.%N)
    seconds[$name]=$(echo "$end - $start" | bc)
}

playbook() { ansible-playbook -i "$inv" "$@"; }

# The CNI plugins are installed once first, so that every way starts from a node
# with packages present (the naive and raw ways use /usr/lib/cni directly).
playbook playbooks/site.yml --tags step4 > "$out/warmup.log" 2>&1
playbook playbooks/teardown.yml -e podnet_teardown_plugins=false > "$out/warmup_down.log" 2>&1

timed collection_converge playbook playbooks/site.yml
timed collection_rerun playbook playbooks/site.yml
timed collection_check playbook playbooks/site.yml --check
timed collection_teardown playbook playbooks/teardown.yml -e podnet_teardown_plugins=false

nodes=$(awk '/^\[podnet_nodes\]/{f=1; next} /^\[/{f=0} f && NF {print $1 "=" $2}' "$inv" | sed 's/ansible_host=//')
key=/var/lib/podnet-lab/pbench/id_ed25519
raw() {  # SCRIPT: one SSH call per node, all nodes at once
    local script=$1 i=0 pids=() entry
    for entry in $nodes; do
        ssh -i "$key" -o UserKnownHostsFile=/var/lib/podnet-lab/pbench/known_hosts -o StrictHostKeyChecking=yes \
            "root@${entry#*=}" "POD_OCTET=$((10 + i)) bash -s" < "bench/raw/$script" &
        pids+=($!)
        i=$((i + 1))
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
}
timed raw_converge raw tutorial_up.sh
timed raw_teardown raw tutorial_down.sh

timed naive_converge playbook bench/naive/tutorial.yml -e naive_script="$repo/bench/raw/tutorial_up.sh"
timed naive_teardown playbook bench/naive/tutorial.yml -e naive_script="$repo/bench/raw/tutorial_down.sh" \
    -e naive_fail_on_error=false

python3 - "$out/tutorial.json" <<PY
import json, sys
s = {k: float(v) for k, v in [$(for k in "${!seconds[@]}"; do printf '("%s", "%s"),' "$k" "${seconds[$k]}"; done)]}
rows = [
    ('converge', s['collection_converge'], s['raw_converge'], s['naive_converge']),
    ('rerun', s['collection_rerun'], None, None),
    ('rerun, check mode', s['collection_check'], None, None),
    ('teardown', s['collection_teardown'], s['raw_teardown'], s['naive_teardown']),
]
print('%-18s %12s %10s %10s %12s' % ('two nodes', 'collection', 'raw', 'naive', 'coll/naive'))
for name, coll, raw, naive in rows:
    ratio = '%.2f' % (coll / naive) if naive else ('%.2f' % (coll / s['naive_converge']) + '*')
    print('%-18s %11.1fs %10s %10s %12s' % (name, coll, '%.1fs' % raw if raw else '-', '%.1fs' % naive if naive else '-', ratio))
print('* rerun against the naive converge (a naive playbook cannot rerun: it fails on the first ip netns add)')
json.dump({'seconds': s}, open(sys.argv[1], 'w'), indent=2)
PY
