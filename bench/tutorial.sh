#!/usr/bin/env bash
# Benchmarks 1 and 2 of issue 6: the whole tutorial (steps 1-5, with the peer pod
# that verify.yml's pod-to-pod check uses) on a two-node lab `pbench`
# (198.18.4.0/24, torn down afterwards), built three ways on the same machine in
# one run, so that ratios hold:
#   collection  playbooks/site.yml: fresh, rerun, rerun in check mode (both must
#               report changed=0); playbooks/tutorial_down.yml
#   raw         the tutorial's own commands, one SSH call per node (the floor):
#               bench/raw/tutorial_{up,down}.sh
#   naive       one ansible.builtin.command task per tutorial command, with loop
#               (what a user writes without the collection): bench/naive/*.yml
# Each build is proved by playbooks/verify.yml and each teardown by the residue
# check of playbooks/teardown.yml (--tags residue), neither of them timed.
# Prints a table and writes bench/output/tutorial.json.
#   Usage: bench/tutorial.sh [REPEATS]   (default 1; the table shows medians)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
export PATH="$repo/.venv/bin:$PATH"
repeats=${1:-1}
out=$repo/bench/output
log=$out/tutorial
mkdir -p "$log"
# shellcheck source=bench/lib/lab.sh
. bench/lib/lab.sh
bench_lab pbench 198.18.4.0/24 "$log" controlplane node01
bench_lab_trap :
bench_lab_up

times=$log/times.txt
: > "$times"
# Every playbook also writes the time of each of its tasks (NAME.tasks.json).
export ANSIBLE_CALLBACK_PLUGINS=$repo/bench/lib/callback_plugins ANSIBLE_CALLBACKS_ENABLED=task_times
step() {  # NAME COMMAND...: run it, fail loudly with the log
    local name=$1
    shift
    if ! "$@" > "$log/$name.log" 2>&1; then
        echo "bench: $name failed, see $log/$name.log" >&2
        exit 1
    fi
}
timed() {  # NAME COMMAND...: step, and record its wall-clock seconds
    local name=$1 start end
    start=$(date +%s.%N)
    PODNET_TASK_TIMES=$log/$1.tasks.json step "$@"
    end=$(date +%s.%N)
    echo "$name $(echo "$end - $start" | bc)" >> "$times"
    echo "bench: $name $(echo "$end - $start" | bc | cut -c1-5) s" >&2
}
unchanged() {  # NAME: the play recap in NAME's log says changed=0 for every host
    if grep -E '^[a-z0-9]+ +: ok=' "$log/$1.log" | grep -vq ' changed=0 '; then
        echo "bench: $1 changed something, see $log/$1.log" >&2
        exit 1
    fi
}

nodes=$(awk '/^\[podnet_nodes\]/{f=1; next} /^\[/{f=0} f && NF {print $2}' "$inv" | sed 's/ansible_host=//')
raw() {  # SCRIPT: one SSH call per node, all nodes at once
    local script=$1 i=0 pids=() address status=0
    for address in $nodes; do
        bench_ssh "$address"
        "${ssh_cmd[@]}" "POD_OCTET=$((10 + i)) bash -s" < "bench/raw/$script" &
        pids+=($!)
        i=$((i + 1))
    done
    for pid in "${pids[@]}"; do wait "$pid" || status=1; done
    return $status
}

# Every way starts from nodes with the packages and the CNI plugins present (raw
# and naive run the plugins from /usr/lib/cni, the collection copies them once).
step warmup playbook playbooks/site.yml --tags step4
step warmup_down playbook playbooks/tutorial_down.yml

for _ in $(seq "$repeats"); do
    timed collection_converge playbook playbooks/site.yml
    timed collection_rerun playbook playbooks/site.yml
    unchanged collection_rerun
    timed collection_check playbook playbooks/site.yml --check
    unchanged collection_check
    step collection_verify playbook playbooks/verify.yml
    timed collection_teardown playbook playbooks/tutorial_down.yml
    step collection_residue playbook playbooks/teardown.yml --tags residue

    timed raw_converge raw tutorial_up.sh
    step raw_verify playbook playbooks/verify.yml
    timed raw_teardown raw tutorial_down.sh
    step raw_residue playbook playbooks/teardown.yml --tags residue

    timed naive_converge playbook bench/naive/tutorial_up.yml
    step naive_verify playbook playbooks/verify.yml
    timed naive_teardown playbook bench/naive/tutorial_down.yml
    step naive_residue playbook playbooks/teardown.yml --tags residue
done
step plugins_down playbook playbooks/teardown.yml

python3 bench/lib/table.py tutorial "$times" "$out/tutorial.json" "$log"
