#!/usr/bin/env bash
# Reliability: concurrent pause_pod runs on ONE node (the first host of the
# group podnet_nodes of INVENTORY, such as a virtual lab's inventory).
#
#   bash tests/reliability/concurrency.sh INVENTORY
#
# 1. The CNI network relconc on the node (tests/reliability/network.yml: the
#    plugins in /opt/cni/relconc-bin, bridge relconc0 + host-local
#    10.244.50.0/24 with ipMasq). The node may hold other things, such as a
#    converged tutorial: only the test's pods are counted.
# 2. Two ansible-playbook runs at once, one pause_pod task each, 50 pods each
#    (run A: ca-000..ca-049, run B: cb-000..cb-049): both exit 0, 100 distinct
#    IPs (in the tasks' results and in host-local's reservations, which agree),
#    exactly 100 reservations, 100 pause processes, no iptables rule twice in
#    nat or filter.
# 3. Two runs at once on the SAME 20 pods (cs-000..cs-019): both exit 0, 20
#    pause processes and 20 reservations, each pod created (sandbox and CNI ADD)
#    by exactly one of the runs, both runs report the same address for it; a
#    third run changes nothing.
# 4. Two runs at once remove everything (state absent; both take the cs pods),
#    then the network; playbooks/files/residue.sh on the node must find nothing
#    it did not find before the test.
#
# Prints a count line per part and exits non-zero on any failure. The runs' logs
# and results are in tests/output/reliability/concurrency/. Whatever happens,
# the pods and the network are removed again at the end (the lab is not touched).
set -euo pipefail
export LC_ALL=C.UTF-8

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"  # ansible.cfg applies
export PATH="$repo/.venv/bin:$PATH"

if (($# != 1)) || [[ ! -f $1 ]]; then
    echo "usage: $0 INVENTORY" >&2
    exit 2
fi
inventory=$(realpath "$1")
here=$repo/tests/reliability
out=$repo/tests/output/reliability/concurrency
rm -rf "$out"
mkdir -p "$out/cp"
# Ansible's ssh control sockets of these runs, ours alone.
export ANSIBLE_SSH_CONTROL_PATH_DIR=$out/cp

failures=0
fail() {
    echo "concurrency: FAILED: $*" >&2
    failures=$((failures + 1))
}

playbook() {  # LOG ARGS...: one ansible-playbook run, its output in LOG
    local log=$out/$1.log
    shift
    ansible-playbook -i "$inventory" "$@" > "$log" 2>&1
}

# start NAME STATE PREFIX:COUNT...: a pods.yml run in the background, its log in
# $out/NAME.log, its result in $out/NAME.json, its exit status in $out/NAME.rc;
# finish: wait for the runs started, their time together in $elapsed.
started=()
start() {
    local name=$1 state=$2
    shift 2
    [[ ${#started[@]} -gt 0 ]] || started_at=$EPOCHREALTIME
    if playbook "$name" "$here/pods.yml" -e "rel_out=$out/$name.json" -e "rel_state=$state" -e "$(groups "$@")"; then
        echo 0 > "$out/$name.rc"
    else
        echo $? > "$out/$name.rc"
    fi &
    started+=($!)
}
finish_runs() {
    wait "${started[@]}"
    started=()
    elapsed=$(printf '%.1f' "$(echo "$EPOCHREALTIME - $started_at" | bc)")
}
groups() {  # PREFIX:COUNT...: pods.yml's rel_groups as JSON
    local spec json=
    for spec in "$@"; do json+="{\"prefix\": \"${spec%:*}\", \"count\": ${spec#*:}}, "; done
    printf '{"rel_groups": [%s]}' "${json%, }"
}
exited_zero() {  # NAME...: every run exited 0; $nonzero: how many did not
    local name rc
    nonzero=0
    for name in "$@"; do
        rc=$(cat "$out/$name.rc" 2>/dev/null || echo missing)
        if [[ $rc != 0 ]]; then
            fail "run $name exited $rc, see $out/$name.log"
            nonzero=$((nonzero + 1))
        fi
    done
    ((nonzero == 0))
}
probe() {  # NAME SCRIPT [ARGS]: the script's output on the node into $out/NAME.txt
    local name=$1 script=$2
    shift 2
    if ! playbook "$name" "$here/probe.yml" -e "rel_script=$script" -e "rel_out=$out/$name.txt" \
        -e "$(python3 -c 'import json, shlex, sys; print(json.dumps({"rel_args": shlex.join(sys.argv[1:])}))' "$@")"; then
        fail "cannot look at the node, see $out/$name.log"
        : > "$out/$name.txt"
        return 1
    fi
}
# Lines of a probe's output (host name dropped) whose first word is KIND
# (probe.yml's header line starts with #).
lines() { awk -v kind="$2" '$2 == kind { $1 = ""; $2 = ""; sub(/^  /, ""); print }' "$out/$1.txt"; }

cleaned=0
cleanup() {  # the pods of every part, then the network; quiet, best effort
    ((cleaned)) && return 0
    cleaned=1
    playbook cleanup_pods "$here/pods.yml" -e "rel_out=$out/cleanup_pods.json" -e rel_state=absent \
        -e "$(groups ca:50 cb:50 cs:20)" || echo "concurrency: removing the pods failed, see $out/cleanup_pods.log" >&2
    playbook cleanup_network "$here/network.yml" -e rel_state=absent ||
        echo "concurrency: removing the network failed, see $out/cleanup_network.log" >&2
}
finish() {
    local rc=$?
    trap - EXIT
    set +e
    cleanup
    for sock in "$ANSIBLE_SSH_CONTROL_PATH_DIR"/*; do
        [[ -S $sock ]] && ssh -o ControlPath="$sock" -O exit localhost > /dev/null 2>&1
    done
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

host=$(ansible-inventory -i "$inventory" --graph podnet_nodes 2>/dev/null | sed -n 's/^ *|--//p' | grep -v '^@' | head -n 1)
[[ -n $host ]] || { echo "concurrency: no host in group podnet_nodes of $inventory" >&2; exit 2; }
echo "concurrency: node $host of $inventory"

# What the residue check finds before the test (a converged tutorial, say) is not
# the test's residue.
residue_args=(--links relconc0 --files "/etc/cni/net.d/10-relconc.conf /var/lib/cni/networks/relconc /opt/cni/relconc-bin")
probe residue_before "$repo/playbooks/files/residue.sh" "${residue_args[@]}" || exit 1
if ! playbook network "$here/network.yml"; then
    echo "concurrency: cannot set up the network on $host, see $out/network.log" >&2
    exit 1
fi

# --- 2 runs x 50 different pods --------------------------------------------
start run_a present ca:50
start run_b present cb:50
finish_runs
echo "concurrency: 2 runs x 50 pods at once took ${elapsed} s"
exited_zero run_a run_b || true
failed_runs=$nonzero
probe state "$here/node_state.sh" relconc || true

# The addresses the two tasks returned, as "POD IP" (no prefix length).
task_ips() {
    python3 - "$@" <<'EOF'
import json, sys
for path in sys.argv[1:]:
    try:
        result = json.load(open(path))
    except (OSError, ValueError):
        continue
    for name, pod in sorted(result['pods'].items()):
        for ip in pod.get('ips') or []:
            print(name, ip['address'].split('/')[0])
EOF
}
task_ips "$out/run_a.json" "$out/run_b.json" > "$out/run_ab.ips"
reserved=$(lines state reservation | wc -l)  # every reservation of the network
reserved_ips=$(lines state reservation | awk '$2 ~ /^c[ab]-/ { print $1 }' | sort -u | wc -l)
task_ip_count=$(awk '{ print $2 }' "$out/run_ab.ips" | sort -u | wc -l)
task_pods=$(awk '{ print $1 }' "$out/run_ab.ips" | sort -u | wc -l)
pauses=$(lines state pause | grep -cE '^c[ab]-[0-9]{3}$' || true)
duplicates=$(lines state duplicate | wc -l)
# The task's address of each pod is the one host-local reserved for it.
mismatch=$(comm -3 <(sort "$out/run_ab.ips") <(lines state reservation | awk '$2 ~ /^c[ab]-/ { print $2, $1 }' | sort) | wc -l)

((task_pods == 100)) || fail "the tasks returned addresses for $task_pods pods, not 100"
((task_ip_count == 100)) || fail "the tasks returned $task_ip_count distinct IPs, not 100"
((reserved == 100)) || fail "host-local holds $reserved reservations in network relconc, not 100"
((reserved_ips == 100)) || fail "host-local reserved $reserved_ips distinct IPs, not 100"
((mismatch == 0)) || fail "$mismatch pod/IP pairs differ between the tasks' results and host-local's reservations"
((pauses == 100)) || fail "$pauses pause processes run for the pods, not 100"
((duplicates == 0)) || { fail "$duplicates iptables rules appear twice:"; lines state duplicate >&2; }
echo "concurrency: 2 runs x 50 pods: $task_ip_count distinct IPs ($reserved_ips reserved, $reserved reservations," \
    "$pauses pause processes), $duplicates duplicate rules" \
    "($(lines state rules | tr '\n' ' ' | sed 's/ $//')), $failed_runs failed runs"

# --- 2 runs x the same 20 pods ----------------------------------------------
start run_s1 present cs:20
start run_s2 present cs:20
finish_runs
echo "concurrency: 2 runs x the same 20 pods at once took ${elapsed} s"
exited_zero run_s1 run_s2 || true
probe state_same "$here/node_state.sh" relconc || true
same_pauses=$(lines state_same pause | grep -cE '^cs-[0-9]{3}$' || true)
same_reserved=$(lines state_same reservation | grep -cE ' cs-[0-9]{3}$' || true)
same_ips=$(lines state_same reservation | awk '$2 ~ /^cs-/ { print $1 }' | sort -u | wc -l)
all_pauses=$(lines state_same pause | grep -cE '^c[abs]-[0-9]{3}$' || true)
all_reserved=$(lines state_same reservation | wc -l)
# How often each cs pod was created (sandbox made, CNI ADD) or removed (CNI DEL)
# across the runs named: "POD SANDBOXES ADDS DELS".
count_actions() {
    python3 - "$@" <<'EOF'
import json, re, sys
counts = {'cs-%03d' % i: [0, 0, 0] for i in range(20)}
for path in sys.argv[1:]:
    try:
        actions = json.load(open(path))['actions']
    except (OSError, ValueError):
        continue
    for action in actions:
        for kind, pattern in enumerate((r'create sandbox (cs-\S+) ', r'CNI ADD \S+ to pod (cs-\S+) ',
                                        r'CNI DEL \S+ from pod (cs-\S+)$')):
            match = re.match(pattern, action)
            if match:
                counts.setdefault(match.group(1), [0, 0, 0])[kind] += 1
for name, numbers in sorted(counts.items()):
    print(name, *numbers)
EOF
}
count_actions "$out/run_s1.json" "$out/run_s2.json" > "$out/run_s.counts"
once=$(awk '$2 == 1 && $3 == 1' "$out/run_s.counts" | wc -l)
not_once=$(awk '$2 != 1 || $3 != 1 { printf "%s%s %s %s", sep, $1, $2, $3; sep = "; " }' "$out/run_s.counts")
task_ips "$out/run_s1.json" > "$out/run_s1.ips"
task_ips "$out/run_s2.json" > "$out/run_s2.ips"
same_answer=$(comm -12 "$out/run_s1.ips" "$out/run_s2.ips" | wc -l)
same_mismatch=$(comm -3 "$out/run_s1.ips" <(lines state_same reservation | awk '$2 ~ /^cs-/ { print $2, $1 }' | sort) | wc -l)

((same_pauses == 20)) || fail "$same_pauses pause processes run for the 20 pods"
((same_reserved == 20)) || fail "host-local holds $same_reserved reservations for the 20 pods"
((same_ips == 20)) || fail "host-local reserved $same_ips distinct IPs for the 20 pods"
((all_pauses == 120 && all_reserved == 120)) ||
    fail "the node has $all_pauses pause processes and $all_reserved reservations of the test's pods, not 120 each"
((once == 20)) || fail "not every pod was created exactly once (pod, sandboxes made, CNI ADDs): $not_once"
((same_answer == 20)) || fail "the two runs report the same address for only $same_answer of the 20 pods"
((same_mismatch == 0)) || fail "$same_mismatch pod/IP pairs differ between run s1's result and host-local's reservations"

start rerun present cs:20
finish_runs
if exited_zero rerun && python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["changed"])' "$out/rerun.json"; then
    rerun=changed=false
else
    rerun=changed=true
    fail "a rerun on the 20 pods changed something, see $out/rerun.log"
fi
echo "same container IDs: 2 runs x 20 pods: $same_pauses pods, $same_ips IPs, $once created once; rerun $rerun"

# --- removal, 2 runs at once --------------------------------------------------
start remove_a absent ca:50 cs:20
start remove_b absent cb:50 cs:20
finish_runs
exited_zero remove_a remove_b || true
removal_failed=$nonzero
if ((removal_failed)); then
    cleanup  # the pods once more, then the network
elif playbook network_absent "$here/network.yml" -e rel_state=absent; then
    cleaned=1  # nothing left for the exit trap to do
else
    fail "removing the network failed, see $out/network_absent.log"
fi
probe residue "$repo/playbooks/files/residue.sh" \
    --links relconc0 --files "/etc/cni/net.d/10-relconc.conf /var/lib/cni/networks/relconc"
count_actions "$out/remove_a.json" "$out/remove_b.json" > "$out/remove.counts"
removed_once=$(awk '$4 == 1' "$out/remove.counts" | wc -l)
((removed_once == 20)) || fail "not every cs pod had exactly one CNI DEL: $(awk '$4 != 1 { printf "%s %s; ", $1, $4 }' "$out/remove.counts")"
if probe residue "$repo/playbooks/files/residue.sh" "${residue_args[@]}"; then
    comm -23 <(grep -v '^#' "$out/residue.txt" | sort) <(grep -v '^#' "$out/residue_before.txt" | sort) > "$out/residue.new"
    residue=$(wc -l < "$out/residue.new")
    ((residue == 0)) || { fail "left on the node after removal:"; sed 's/^/  /' "$out/residue.new" >&2; }
else
    residue='(residue check failed)'
fi
echo "concurrency: removal by 2 runs at once took ${elapsed} s, $removal_failed failed runs," \
    "$removed_once of the 20 shared pods deleted once; $residue residue items on $host"

if ((failures)); then
    echo "concurrency: $failures checks FAILED (logs and results: $out)" >&2
    exit 1
fi
echo "concurrency: all checks passed"
