#!/usr/bin/env bash
# Benchmark of issue 6, part 3 (scale): N pause pods on ONE lab node, three ways,
# on the same CNI network (bridge scale0 + host-local 10.100.0.0/22, written once
# by packetlife.podnet.cni_conf; bench/scale/network.yml):
#   collection  ONE packetlife.podnet.pause_pod task with pods: listing N pods
#               (bench/scale/collection.yml): create, rerun (must be changed=0),
#               destroy (state absent)
#   raw         the floor: one ssh call running a bash loop of ip netns add, lo up,
#               a pause process (sleep) and the bridge plugin's ADD per pod, and
#               the loop of DEL, kill and ip netns delete (bench/scale/raw.sh)
#   naive       command/shell tasks with loop:, one per kind of command
#               (bench/scale/naive.yml), only for N <= NAIVE_MAX (about 0.1-0.2 s
#               per item and task)
# Brings up the one-node lab pbscale (198.18.6.0/24, node scale1) and takes it
# down again on exit. Timing is wall clock of each whole command: ansible-playbook
# with its start-up, or the ssh call. The collection's "task" figures are the
# pause_pod task alone (bench/lib/callback_plugins/task_times.py).
#
# Usage: bench/scale.sh [-r REPEATS] [-n NAIVE_MAX] [-m] [N...]
#   N           pod counts, default 10 100 500 1000 (at most 1000: the /22)
#   -r REPEATS  runs of every measurement, medians reported (default 1)
#   -n NAIVE_MAX  largest N the naive way runs for (default 100)
#   -m          the network masquerades (ipMasq: true; iptables rules per pod)
# Prints a table and writes bench/output/scale.json (logs in bench/output/scale/).
set -euo pipefail
export LC_ALL=C.UTF-8  # $EPOCHREALTIME with a decimal point; ansible needs UTF-8
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"  # ansible.cfg applies
export PATH="$repo/.venv/bin:$PATH"

usage() { sed -n 's/^# \{0,1\}//; /^Usage:/,/^Prints/p' "$0" >&2; exit 64; }
repeats=1
naive_max=100
ipmasq=false
while getopts r:n:mh opt; do
    case $opt in
    r) repeats=$OPTARG ;;
    n) naive_max=$OPTARG ;;
    m) ipmasq=true ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[[ $repeats =~ ^[1-9][0-9]*$ && $naive_max =~ ^[0-9]+$ ]] || usage
if (($#)); then sizes=("$@"); else sizes=(10 100 500 1000); fi
for n in "${sizes[@]}"; do
    if [[ ! $n =~ ^[1-9][0-9]*$ ]] || ((n > 1000)); then echo "bench: N must be 1 to 1000, got '$n'" >&2; exit 64; fi
done

out=$repo/bench/output
logs=$out/scale
mkdir -p "$logs"
rm -f "$logs"/*.log
samples=$logs/samples.tsv
: > "$samples"

# shellcheck source=bench/lib/lab.sh
. bench/lib/lab.sh
bench_lab pbscale 198.18.6.0/24 "$logs" scale1
# The pause_pod task's own time (bench/lib/callback_plugins/task_times.py),
# written where timed() says.
export ANSIBLE_CALLBACK_PLUGINS=$repo/bench/lib/callback_plugins ANSIBLE_CALLBACKS_ENABLED=task_times
timer=$logs/task.json

# Whatever a failed run left on the node, then the bridge and reservations.
clean_node() {
    [[ -n ${address:-} ]] || return 0
    node_script down_any >> "$logs/cleanup.log" 2>&1
    node_script clean >> "$logs/cleanup.log" 2>&1 || { echo "bench: node not clean, see $logs/cleanup.log" >&2; return 1; }
}
bench_lab_trap clean_node

bench_lab_up || exit 1

node_script() { "${ssh_cmd[@]}" "bash -s -- $*" < bench/scale/raw.sh; }  # ACTION [N]

timed() {  # N WAY PHASE REP COMMAND...: run once, append the wall time to the samples, fail loudly
    local n=$1 way=$2 phase=$3 rep=$4 log start end task=''
    shift 4
    log=$logs/$way.$phase.$n.$rep.log
    rm -f "$timer"
    start=$EPOCHREALTIME
    if ! PODNET_TASK_TIMES=$timer "$@" > "$log" 2>&1; then
        echo "bench: $way $phase of $n pods (run $rep) failed, see $log" >&2
        exit 1
    fi
    end=$EPOCHREALTIME
    [[ $way == collection ]] && task=$(python3 -c 'import json, sys
print(*[t["seconds"] for t in json.load(open(sys.argv[1]))["tasks"] if t["name"] == "The pods"])' "$timer")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$way" "$phase" "$rep" "$(echo "$end - $start" | bc)" "$task" >> "$samples"
    printf 'bench:   %-10s %-7s %4d pods: %7.2f s\n' "$way" "$phase" "$n" "$(echo "$end - $start" | bc)" >&2
}
changed_is() {  # LOG WANT: the play recap says changed=WANT (WANT may be a regex such as [1-9][0-9]*)
    local got
    got=$(sed -n 's/^scale1 *: .*changed=\([0-9]*\).*/\1/p' "$1")
    if [[ ! $got =~ ^($2)$ ]]; then
        echo "bench: $1 reports changed=${got:-?}, expected $2" >&2
        exit 1
    fi
}

# Warm up: ansible's persistent ssh connection, the network file, and the bridge
# (made by the first ADD), so that no way pays for those.
playbook bench/scale/network.yml -e scale_ipmasq="$ipmasq" > "$logs/network.log" 2>&1 ||
    { echo "bench: cannot write the network on scale1, see $logs/network.log" >&2; exit 1; }
if ! { node_script up 1 && node_script down 1; } > "$logs/warmup.log" 2>&1; then
    echo "bench: the raw loop fails, see $logs/warmup.log" >&2
    exit 1
fi

for n in "${sizes[@]}"; do
    for ((rep = 1; rep <= repeats; rep++)); do
        echo "bench: $n pods, run $rep of $repeats" >&2
        timed "$n" raw create "$rep" node_script up "$n"
        timed "$n" raw rerun "$rep" node_script rerun "$n"
        timed "$n" raw destroy "$rep" node_script down "$n"
        timed "$n" collection create "$rep" playbook bench/scale/collection.yml -e scale_n="$n"
        changed_is "$logs/collection.create.$n.$rep.log" 1
        timed "$n" collection rerun "$rep" playbook bench/scale/collection.yml -e scale_n="$n"
        changed_is "$logs/collection.rerun.$n.$rep.log" 0
        timed "$n" collection destroy "$rep" playbook bench/scale/collection.yml -e scale_n="$n" -e scale_state=absent
        changed_is "$logs/collection.destroy.$n.$rep.log" 1
        if ((n <= naive_max)); then
            timed "$n" naive create "$rep" playbook bench/scale/naive.yml -e scale_n="$n"
            changed_is "$logs/naive.create.$n.$rep.log" '[1-9][0-9]*'
            timed "$n" naive rerun "$rep" playbook bench/scale/naive.yml -e scale_n="$n"
            changed_is "$logs/naive.rerun.$n.$rep.log" 0
            timed "$n" naive destroy "$rep" playbook bench/scale/naive.yml -e scale_n="$n" -e scale_state=absent
            changed_is "$logs/naive.destroy.$n.$rep.log" '[1-9][0-9]*'
        fi
        node_script check > "$logs/check.$n.$rep.log" 2>&1 ||
            { echo "bench: pods left after run $rep of $n pods, see $logs/check.$n.$rep.log" >&2; exit 1; }
    done
done

python3 bench/scale/report.py "$samples" "$out/scale.json" "$naive_max" "$ipmasq"
