# shellcheck shell=bash
# shellcheck disable=SC2034  # lab, labdir, inv, address, ssh_cmd are for the sourcing script
# The virtual lab of one benchmark part, sourced by bench/*.sh:
#
#   bench_lab NAME SUBNET LOGDIR NODE...   set lab, labdir, inv; ansible's ssh control
#                                          sockets go to LOGDIR/cp (ours alone)
#   bench_lab_up                           bring it up; address: the first node's
#                                          address, ssh_cmd: an ssh to it
#   bench_lab_down                         stop the ssh masters of this run and take the
#                                          lab down; returns 1 if that failed
#   bench_lab_trap CLEANUP                 on exit (also after INT/TERM) run the command
#                                          CLEANUP (: for none), then bench_lab_down;
#                                          either failing makes the script fail
#   bench_ssh ADDRESS                      an ssh command line to a node, into ssh_cmd
#   playbook ARGS...                       ansible-playbook on the lab's inventory
#
# Messages go to fd 3 when the script has opened it (a signal may arrive while
# stderr is redirected to a log), else to 2.

bench_lab() {
    local name=$1 subnet=$2 nodes_json
    bench_logs=$3
    shift 3
    bench_nodes=("$@")
    nodes_json=$(printf '"%s",' "${bench_nodes[@]}")
    lab=(-e "podnet_lab_name=$name" -e "podnet_lab_subnet=$subnet" -e "{\"podnet_lab_nodes\": [${nodes_json%,}]}")
    labdir=/var/lib/podnet-lab/$name
    inv=$labdir/inventory.ini
    export ANSIBLE_SSH_CONTROL_PATH_DIR=$bench_logs/cp
    mkdir -p "$ANSIBLE_SSH_CONTROL_PATH_DIR"
}

_bench_say() {
    if { true >&3; } 2> /dev/null; then echo "$*" >&3; else echo "$*" >&2; fi
}

bench_lab_up() {
    _bench_say "bench: bringing lab ${labdir##*/} up"
    ansible-playbook playbooks/lab_up.yml "${lab[@]}" > "$bench_logs/lab_up.log" 2>&1 ||
        { _bench_say "bench: lab_up failed, see $bench_logs/lab_up.log"; return 1; }
    address=$(awk -v node="${bench_nodes[0]}" '$1 == node { for (i = 2; i <= NF; i++)
        if ($i ~ /^ansible_host=/) { sub(/^ansible_host=/, "", $i); print $i } }' "$inv")
    [[ -n $address ]] || { _bench_say "bench: no address for ${bench_nodes[0]} in $inv"; return 1; }
    bench_ssh "$address"
}

bench_ssh() {
    ssh_cmd=(ssh -i "$labdir/id_ed25519" -o UserKnownHostsFile="$labdir/known_hosts" -o StrictHostKeyChecking=yes
        -o IdentitiesOnly=yes -o BatchMode=yes -o ControlMaster=no -o ControlPath=none "root@$1")
}

playbook() { ansible-playbook -i "$inv" "$@"; }

bench_lab_trap() {
    _bench_cleanup=$1
    trap _bench_finish EXIT
    trap 'exit 130' INT TERM
}

_bench_finish() {
    local rc=$?
    trap - EXIT INT TERM
    set +e  # whatever happens, the lab goes down
    "$_bench_cleanup" || rc=1
    bench_lab_down || rc=1
    exit "$rc"
}

bench_lab_down() {
    local sock
    for sock in "$ANSIBLE_SSH_CONTROL_PATH_DIR"/*; do
        if [[ -S $sock ]]; then ssh -o ControlPath="$sock" -O exit "${bench_nodes[0]}" > /dev/null 2>&1 || true; fi
    done
    _bench_say "bench: bringing lab ${labdir##*/} down"
    if ! ansible-playbook playbooks/lab_down.yml "${lab[@]}" > "$bench_logs/lab_down.log" 2>&1; then
        _bench_say "bench: lab_down failed, see $bench_logs/lab_down.log"
        return 1
    fi
}
