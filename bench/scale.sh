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
# pause_pod task alone (bench/scale/callback_plugins/scale_timer.py).
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

lab=(-e podnet_lab_name=pbscale -e podnet_lab_subnet=198.18.6.0/24 -e '{"podnet_lab_nodes": ["scale1"]}')
labdir=/var/lib/podnet-lab/pbscale
inv=$labdir/inventory.ini
# ansible's ssh control sockets go to a directory of our own, so that the
# masters this run started can be stopped at the end (and only those).
export ANSIBLE_SSH_CONTROL_PATH_DIR=$logs/cp
mkdir -p "$ANSIBLE_SSH_CONTROL_PATH_DIR"
# The pause_pod task's own time (bench/scale/callback_plugins/scale_timer.py),
# written where timed() says.
export ANSIBLE_CALLBACK_PLUGINS=$repo/bench/scale/callback_plugins ANSIBLE_CALLBACKS_ENABLED=scale_timer
timer=$logs/task.tsv

finish() {
    local rc=$? sock
    trap - EXIT INT TERM
    if [[ -n ${address:-} ]]; then
        # Whatever a failed run left on the node, then the bridge and reservations.
        node_script down_any >> "$logs/cleanup.log" 2>&1 || true
        node_script clean >> "$logs/cleanup.log" 2>&1 || { echo "bench: node not clean, see $logs/cleanup.log" >&2; rc=1; }
    fi
    for sock in "$ANSIBLE_SSH_CONTROL_PATH_DIR"/*; do
        if [[ -S $sock ]]; then ssh -o ControlPath="$sock" -O exit scale1 > /dev/null 2>&1 || true; fi
    done
    echo "bench: bringing lab pbscale down" >&2
    if ! ansible-playbook playbooks/lab_down.yml "${lab[@]}" > "$logs/lab_down.log" 2>&1; then
        echo "bench: lab_down failed, see $logs/lab_down.log" >&2
        rc=1
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

echo "bench: bringing lab pbscale up" >&2
ansible-playbook playbooks/lab_up.yml "${lab[@]}" > "$logs/lab_up.log" 2>&1 ||
    { echo "bench: lab_up failed, see $logs/lab_up.log" >&2; exit 1; }
address=$(awk '$1 == "scale1" { for (i = 2; i <= NF; i++) if ($i ~ /^ansible_host=/) { sub(/^ansible_host=/, "", $i); print $i } }' "$inv")
[[ -n $address ]] || { echo "bench: no address for scale1 in $inv" >&2; exit 1; }
ssh_cmd=(ssh -i "$labdir/id_ed25519" -o UserKnownHostsFile="$labdir/known_hosts" -o StrictHostKeyChecking=yes
    -o IdentitiesOnly=yes -o BatchMode=yes -o ControlMaster=no -o ControlPath=none "root@$address")

playbook() { ansible-playbook -i "$inv" "$@"; }
node_script() { "${ssh_cmd[@]}" "bash -s -- $*" < bench/scale/raw.sh; }  # ACTION [N]

timed() {  # N WAY PHASE REP COMMAND...: run once, append the wall time to the samples, fail loudly
    local n=$1 way=$2 phase=$3 rep=$4 log start end task=''
    shift 4
    log=$logs/$way.$phase.$n.$rep.log
    : > "$timer"
    start=$EPOCHREALTIME
    if ! SCALE_TIMER_FILE=$timer "$@" > "$log" 2>&1; then
        echo "bench: $way $phase of $n pods (run $rep) failed, see $log" >&2
        exit 1
    fi
    end=$EPOCHREALTIME
    [[ $way == collection ]] && task=$(awk -F'\t' '$1 == "The pods" { print $2 }' "$timer")
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
