#!/usr/bin/env bash
# Reliability: the zero-residue soak. Brings up its own two-node lab psoak
# (198.18.12.0/24, nodes psoak1 and psoak2), runs N cycles of converge
# (playbooks/site.yml, tutorial steps 1-5) and teardown (playbooks/tutorial_down.yml),
# then playbooks/teardown.yml (the CNI plugins too, and its own residue check),
# then looks for anything left:
#   on every node  playbooks/files/residue.sh with the tutorial's names (taken from
#                  teardown.yml), which also lists any nsfs mount, IPAM reservation,
#                  CNI cache file, pod record or lock, CNI-/podnet rule, nftables
#                  table podnet and pause or workload process of ours
#   on the host    tests/residue_check.sh after the lab is down: namespaces, links
#                  and processes of the lab (psoak-*, /var/lib/podnet-lab/psoak/;
#                  what other sessions start meanwhile is not counted)
# Every converge and teardown must succeed and report changes on every node.
#
#   bash tests/reliability/soak.sh [--cycles N] [--check-every K]
#     --cycles N        cycles of converge + teardown (default 100, about 15 s each)
#     --check-every K   also run the node check after every K-th cycle (default 10;
#                       0: only at the end); a cycle that leaves residue stops the soak
#
# Prints "soak: N cycles of converge + teardown, M residue items found" and the
# time per cycle; exits non-zero on a failed cycle or any residue. The lab is
# taken down whatever happens. Logs: tests/output/reliability/soak/.
#
# PODNET_SOAK_LAB and PODNET_SOAK_SUBNET name another lab (psoak followed by up
# to 3 of [a-z0-9], nodes LAB1 and LAB2; the subnet must be no other lab's), and
# PODNET_SOAK_LOGS another directory for the logs, so that a long soak can run
# beside make test's short one.
set -euo pipefail
export LC_ALL=C.UTF-8

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"  # ansible.cfg applies
export PATH="$repo/.venv/bin:$PATH"

usage() { sed -n 's/^#   \{0,1\}//; /^bash tests\/reliability\/soak.sh/,/^  *0: only/p' "$0" >&2; exit 2; }
cycles=100
check_every=10
while (($#)); do
    case $1 in
        --cycles) cycles=${2-}; shift 2 || usage ;;
        --check-every) check_every=${2-}; shift 2 || usage ;;
        *) usage ;;
    esac
done
[[ $cycles =~ ^[1-9][0-9]*$ && $check_every =~ ^[0-9]+$ ]] || usage

name=${PODNET_SOAK_LAB:-psoak}
subnet=${PODNET_SOAK_SUBNET:-198.18.12.0/24}
[[ $name =~ ^psoak[a-z0-9]{0,3}$ ]] || { echo "soak: PODNET_SOAK_LAB must be psoak and up to 3 of [a-z0-9]" >&2; exit 2; }
lab=(-e "podnet_lab_name=$name" -e "podnet_lab_subnet=$subnet" -e "{\"podnet_lab_nodes\": [\"${name}1\", \"${name}2\"]}")
inventory=/var/lib/podnet-lab/$name/inventory.ini
out=${PODNET_SOAK_LOGS:-$repo/tests/output/reliability/soak}
rm -rf "$out"
mkdir -p "$out/cp"
export ANSIBLE_SSH_CONTROL_PATH_DIR=$out/cp

say() { echo "soak: $*"; }
now() { echo "$EPOCHREALTIME"; }
seconds() { printf '%.1f' "$(echo "$2 - $1" | bc)"; }  # START END
playbook() {  # LOG ARGS...: ansible-playbook on the lab, its output in $out/LOG.log
    local log=$out/$1.log
    shift
    ansible-playbook -i "$inventory" "$@" > "$log" 2>&1
}
# The play recap of LOG: every node ok, nothing failed or unreachable, and (with
# CHANGED) something changed on every node.
recap_ok() {  # LOG [changed]
    local log=$out/$1.log lines
    lines=$(grep -E "^${name}[0-9]+ +: ok=" "$log" || true)
    [[ $(wc -l <<< "$lines") == 2 ]] || return 1
    ! grep -qE 'unreachable=[1-9]|failed=[1-9]' <<< "$lines" || return 1
    [[ ${2-} != changed ]] || ! grep -q ' changed=0 ' <<< "$lines"
}

lab_up_done=0
finish() {
    local rc=$? sock
    trap - EXIT
    set +e
    for sock in "$ANSIBLE_SSH_CONTROL_PATH_DIR"/*; do
        [[ -S $sock ]] && ssh -o ControlPath="$sock" -O exit localhost > /dev/null 2>&1
    done
    if ((lab_up_done)); then
        say "taking lab $name down"
        ansible-playbook playbooks/lab_down.yml "${lab[@]}" > "$out/lab_down.log" 2>&1 ||
            { say "lab_down failed, see $out/lab_down.log" >&2; rc=1; }
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -e /var/lib/podnet-lab/$name ]]; then
    say "lab $name exists already (another soak running?); take it down with playbooks/lab_down.yml first" >&2
    exit 1
fi
bash tests/residue_check.sh --record "$out/host-before.txt"
say "bringing lab $name up ($subnet, nodes ${name}1 ${name}2)"
lab_up_done=1
ansible-playbook playbooks/lab_up.yml "${lab[@]}" > "$out/lab_up.log" 2>&1 ||
    { say "lab_up failed, see $out/lab_up.log" >&2; exit 1; }

# The tutorial's names, as teardown.yml's residue task passes them.
residue_args=$(python3 - playbooks/teardown.yml <<'EOF'
import json, shlex, sys
import yaml
for play in yaml.safe_load(open(sys.argv[1])):
    for task in play.get('tasks') or []:
        script = task.get('ansible.builtin.script')
        if script:
            words = shlex.split(script['cmd'])
            print(json.dumps({'rel_args': shlex.join(words[1:])}))
EOF
)
[[ -n $residue_args ]] || { say "cannot find the residue task in playbooks/teardown.yml" >&2; exit 1; }

node_residue() {  # LOG: residue.sh on every node into $out/LOG.txt; $found: how many items
    playbook "$1" tests/reliability/probe.yml -e rel_hosts=podnet_nodes -e "rel_script=$repo/playbooks/files/residue.sh" \
        -e "rel_out=$out/$1.txt" -e "$residue_args" || { say "the residue check failed, see $out/$1.log" >&2; return 1; }
    found=$(grep -vc '^#' "$out/$1.txt" || true)
}

times=$out/times.tsv  # cycle, converge, teardown seconds
: > "$times"
soak_start=$(now)
failed=
for ((cycle = 1; cycle <= cycles; cycle++)); do
    t0=$(now)
    if ! playbook "converge.$cycle" playbooks/site.yml || ! recap_ok "converge.$cycle" changed; then
        failed="converge of cycle $cycle failed or changed nothing, see $out/converge.$cycle.log"
        break
    fi
    t1=$(now)
    if ! playbook "teardown.$cycle" playbooks/tutorial_down.yml || ! recap_ok "teardown.$cycle" changed; then
        failed="teardown of cycle $cycle failed or changed nothing, see $out/teardown.$cycle.log"
        break
    fi
    t2=$(now)
    printf '%d\t%s\t%s\n' "$cycle" "$(seconds "$t0" "$t1")" "$(seconds "$t1" "$t2")" >> "$times"
    # Only the logs of the last cycles are kept, and those of a failure.
    rm -f "$out/converge.$((cycle - 2)).log" "$out/teardown.$((cycle - 2)).log"
    line="cycle $cycle/$cycles: converge $(seconds "$t0" "$t1") s, teardown $(seconds "$t1" "$t2") s"
    if ((check_every && cycle % check_every == 0 && cycle < cycles)); then
        node_residue "residue.$cycle" || { failed="residue check after cycle $cycle"; break; }
        line+=", $found residue items"
        if ((found)); then
            failed="cycle $cycle left residue, see $out/residue.$cycle.txt"
            break
        fi
    fi
    say "$line"
done
soak_end=$(now)
done_cycles=$(wc -l < "$times")

residue_items=0
if [[ -z $failed ]]; then
    # The plugins go too; teardown.yml's own residue check runs with them.
    playbook teardown playbooks/teardown.yml || failed="playbooks/teardown.yml failed, see $out/teardown.log"
fi
if node_residue residue; then
    residue_items=$found
    if ((found)); then
        say "left on the nodes:" >&2
        grep -v '^#' "$out/residue.txt" | sed 's/^/  /' >&2
    fi
else
    failed=${failed:-the residue check on the nodes failed}
fi

# The host, once the lab is down: namespaces and links of this lab (LAB-...) and
# processes naming its directory, that were not there before.
for sock in "$ANSIBLE_SSH_CONTROL_PATH_DIR"/*; do
    [[ -S $sock ]] && ssh -o ControlPath="$sock" -O exit localhost > /dev/null 2>&1
done
say "taking lab $name down"
lab_up_done=0
if ansible-playbook playbooks/lab_down.yml "${lab[@]}" > "$out/lab_down.log" 2>&1; then
    bash tests/residue_check.sh --baseline "$out/host-before.txt" > "$out/host-residue.txt" 2>&1 || true
    ours="^  ((netns|link) $name-|process .*/$name/)"
    host_items=$(grep -cE "$ours" "$out/host-residue.txt" || true)
    if ((host_items)); then
        say "left on the host:" >&2
        grep -E "$ours" "$out/host-residue.txt" >&2
    fi
    residue_items=$((residue_items + host_items))
else
    failed=${failed:-lab_down failed, see $out/lab_down.log}
fi

say "$done_cycles cycles of converge + teardown, $residue_items residue items found"
if ((done_cycles)); then
    python3 - "$times" "$(seconds "$soak_start" "$soak_end")" <<'EOF'
import statistics, sys
rows = [line.split('\t') for line in open(sys.argv[1]) if line.strip()]
def figures(values):
    return 'median %.1f s (min %.1f, max %.1f)' % (statistics.median(values), min(values), max(values))
converge = [float(row[1]) for row in rows]
teardown = [float(row[2]) for row in rows]
cycle = [c + t for c, t in zip(converge, teardown)]
print('soak: per cycle %s: converge %s, teardown %s; all cycles %s s' % (
    figures(cycle), figures(converge), figures(teardown), sys.argv[2]))
EOF
fi
if [[ -n $failed ]]; then
    say "FAILED: $failed" >&2
    exit 1
fi
((residue_items == 0)) || { say "FAILED: residue left behind (logs: $out)" >&2; exit 1; }
