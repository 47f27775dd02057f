#!/usr/bin/env bash
# Benchmark 4 of issue 6: the cost of each module on its own. Brings up a
# one-node lab (pbmod, 198.18.9.0/24, node mod1; torn down on exit) and, for each
# module, times R times (median reported):
#   cold        a one-task playbook creating a small object set (bench/modules/MODULE.yml)
#   idempotent  the same playbook again, which must report changed=0
#   absent      the same playbook with bench_state=absent (JSON only)
#   raw         the commands the module replaces, in ONE ssh call (bench/modules/MODULE.sh up)
# against two baselines timed the same way: a one-task ansible.builtin.ping
# playbook, and an empty ssh call (ssh NODE true), both taken once per run and
# again right before each module (the module's share: the median over the runs
# of its time minus the baseline paired with it). After every cold/absent and raw
# run, bench/modules/MODULE.sh down removes what is left and fails unless the node
# is clean, so the next run starts cold. Timing is wall clock of the whole
# command (ansible-playbook start-up and ssh included); ansible reuses its ssh
# connection (ControlPersist in ansible.cfg), the raw ssh calls do not.
#
# Usage: bench/modules.sh [-r REPEATS] [MODULE...]
#   -r REPEATS  runs of every measurement (default 5); modules default to all.
# Prints a table and writes bench/output/modules.json (logs in bench/output/modules/).
set -euo pipefail
export LC_ALL=C.UTF-8  # $EPOCHREALTIME with a decimal point; ansible needs UTF-8
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"  # ansible.cfg applies
export PATH="$repo/.venv/bin:$PATH"

usage() { sed -n 's/^# \{0,1\}//; /^Usage:/,/^Prints/p' "$0" >&2; exit 64; }
repeats=5
while getopts r:h opt; do
    case $opt in
    r) repeats=$OPTARG ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[[ $repeats =~ ^[1-9][0-9]*$ ]] || usage

# Each MODULE has bench/modules/MODULE.yml (the one-task play, bench_state
# present/absent) and MODULE.sh (node side: setup, up = raw, down, cleanup).
# cni_plugins was written alongside this benchmark: like any module, it is
# skipped (and said so) unless it loads and passes the probe below.
all_modules=(netns veth linux_bridge cni_conf dnat_rule pause_pod netns_info cni_plugins)
readonly_modules=" netns_info "  # changes nothing: cold must be changed=0 too, no absent run
if (($#)); then modules=("$@"); else modules=("${all_modules[@]}"); fi

out=$repo/bench/output
logs=$out/modules
mkdir -p "$logs"
rm -f "$logs"/*.log
samples=$logs/samples.tsv
: > "$samples"
skipped=$logs/skipped.tsv
: > "$skipped"

# shellcheck source=bench/lib/lab.sh
. bench/lib/lab.sh
bench_lab pbmod 198.18.9.0/24 "$logs" mod1

# A signal may run the exit trap while a command's output is redirected to its
# log, so the trap reports on fd 3, a copy of the script's stderr.
exec 3>&2
bench_lab_trap :

bench_lab_up || exit 1

node() { "${ssh_cmd[@]}" "$@"; }
node_script() { node "bash -s -- $2" < "bench/modules/$1.sh"; }  # MODULE ACTION

rep=0
timed() {  # MODULE KIND COMMAND...: run once, append the wall time to the samples, fail loudly
    local module=$1 kind=$2 log start end
    shift 2
    log=$logs/$module.$kind.$rep.log
    start=$EPOCHREALTIME
    if ! "$@" > "$log" 2>&1; then
        echo "bench: $module $kind (run $rep) failed, see $log" >&2
        exit 1
    fi
    end=$EPOCHREALTIME
    printf '%s\t%s\t%s\t%s\t%s\n' "$module" "$kind" "$rep" "$start" "$end" >> "$samples"
}
changed_is() {  # MODULE KIND WANT: the play recap of the last log says changed=WANT
    local log=$logs/$1.$2.$rep.log got
    got=$(sed -n 's/^mod1 *: .*changed=\([0-9]*\).*/\1/p' "$log")
    if [[ $got != "$3" ]]; then
        echo "bench: $1 $2 (run $rep) reported changed=${got:-?}, expected $3; see $log" >&2
        exit 1
    fi
}
untimed() {  # MODULE ACTION: a node-side step that is not measured
    if ! node_script "$1" "$2" > "$logs/$1.$2.log" 2>&1; then
        echo "bench: $1 $2 failed, see $logs/$1.$2.log" >&2
        exit 1
    fi
}

# Which modules can be measured: the module loads, its bench files exist, and
# a probe (cold, then absent, untimed) works on the node. A module that fails
# its probe is skipped and reported, not measured; one that fails later fails
# the benchmark. cni_plugins (written at the same time as this benchmark) is
# measured this way as soon as it works; its bench files are
# bench/modules/cni_plugins.yml and cni_plugins.sh like the others.
playbook bench/modules/ping.yml > "$logs/warmup.log" 2>&1 ||
    { echo "bench: cannot reach mod1, see $logs/warmup.log" >&2; exit 1; }
skip() { echo "bench: skipping $1: $2" >&2; printf '%s\t%s\n' "$1" "$2" >> "$skipped"; }
measured=()
for m in "${modules[@]}"; do
    if [[ ! -f plugins/modules/$m.py ]]; then
        skip "$m" "no plugins/modules/$m.py"
    elif [[ ! -f bench/modules/$m.yml || ! -f bench/modules/$m.sh ]]; then
        skip "$m" "no bench/modules/$m.yml and .sh"
    elif ! ansible-doc -M plugins/modules "packetlife.podnet.$m" > "$logs/$m.doc.log" 2>&1; then
        skip "$m" "ansible-doc cannot load it, see $logs/$m.doc.log"
    else
        # (down and cleanup only matter if the lab was up already)
        untimed "$m" down
        untimed "$m" cleanup
        untimed "$m" setup
        if ! playbook "bench/modules/$m.yml" > "$logs/$m.probe.log" 2>&1 ||
            { [[ $readonly_modules != *" $m "* ]] &&
                ! playbook "bench/modules/$m.yml" -e bench_state=absent > "$logs/$m.probe_absent.log" 2>&1; }; then
            skip "$m" "its probe run failed, see $logs/$m.probe*.log"
            untimed "$m" down
            untimed "$m" cleanup
            continue
        fi
        untimed "$m" down
        measured+=("$m")
    fi
done

for ((rep = 1; rep <= repeats; rep++)); do
    echo "bench: run $rep of $repeats" >&2
    timed baseline ping_playbook playbook bench/modules/ping.yml
    timed baseline ssh_true node true
    for m in "${measured[@]}"; do
        # Paired baselines, taken right before this module's runs: the report
        # subtracts them run by run, which cancels some of the machine's drift.
        timed "$m" ping_playbook playbook bench/modules/ping.yml
        timed "$m" ssh_true node true
        if [[ $readonly_modules == *" $m "* ]]; then
            timed "$m" cold playbook "bench/modules/$m.yml"
            changed_is "$m" cold 0
            timed "$m" idempotent playbook "bench/modules/$m.yml"
            changed_is "$m" idempotent 0
            timed "$m" raw node_script "$m" up
            continue
        fi
        timed "$m" cold playbook "bench/modules/$m.yml"
        changed_is "$m" cold 1
        timed "$m" idempotent playbook "bench/modules/$m.yml"
        changed_is "$m" idempotent 0
        timed "$m" absent playbook "bench/modules/$m.yml" -e bench_state=absent
        changed_is "$m" absent 1
        timed "$m" sweep_after_module node_script "$m" down
        timed "$m" raw node_script "$m" up
        timed "$m" raw_down node_script "$m" down
    done
done

for m in "${measured[@]}"; do untimed "$m" cleanup; done

python3 bench/modules/report.py "$samples" "$skipped" "$out/modules.json" "$repeats"
