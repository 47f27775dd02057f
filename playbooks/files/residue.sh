#!/usr/bin/env bash
# Print one line per thing of ours still on this host (nothing: clean).
#   residue.sh [--netns "NAMES"] [--links "NAMES"] [--files "PATHS"] [--rules "WORDS"]
# The named namespaces, links and files (a directory counts when not empty), and
# whatever packetlife.podnet or the CNI plugins leave on a node, named or not:
#   mount    nsfs mounts under /run/netns (what holds a namespace)
#   link     the CNI bridge plugin's host ends (veth + 8 hex digits)
#   ipam     host-local reservations in /var/lib/cni/networks/*/ (not its lock
#            and last_reserved_ip.* files)
#   cache    CNI results in /var/lib/cni/results
#   pod      pause_pod's records (/run/podnet/pods/*) and locks (/run/podnet/locks/*)
#   iptables any rule with a "podnet" comment, a CNI- chain or one of WORDS (such
#            as a subnet: rules made by hand carry no comment), in every table
#            (nat and filter hold what the plugins and the modules make)
#   nftables the table ip podnet
#   process  pause processes, workloads (processes writing to a pod's log in
#            /run/podnet), nginx masters, and containers labelled
#            packetlife.podnet.pod when a Docker engine answers on its socket
# It reads only; it always exits 0.
set -uo pipefail

netns='' links='' files='' rules=''
usage() { echo "usage: $0 [--netns NAMES] [--links NAMES] [--files PATHS] [--rules WORDS]" >&2; exit 2; }
while (( $# )); do
    (( $# >= 2 )) || usage
    case $1 in
        --netns) netns=$2 ;;
        --links) links=$2 ;;
        --files) files=$2 ;;
        --rules) rules=$2 ;;
        *) usage ;;
    esac
    shift 2
done
shopt -s nullglob

for name in $netns; do
    [[ -e /run/netns/$name ]] && echo "netns $name"
done
for name in $links; do
    [[ -e /sys/class/net/$name ]] && echo "link $name"
done
for path in $files; do
    if [[ -d $path ]]; then
        [[ -n $(ls -A "$path") ]] && echo "directory $path is not empty"
    elif [[ -e $path ]]; then
        echo "file $path"
    fi
done

# mountinfo: ID PARENT DEV ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE ...
while read -r line; do
    read -r -a fields <<< "${line%% - *}"
    read -r fstype _ <<< "${line#* - }"
    target=${fields[4]}
    if [[ $fstype == nsfs && $target =~ ^(/var)?/run/netns/ ]]; then
        printf 'mount nsfs %b\n' "$target"  # \040 and friends back to characters
    fi
done < /proc/self/mountinfo
for path in /sys/class/net/veth*; do
    [[ ${path##*/} =~ ^veth[0-9a-f]{8}$ ]] && echo "link ${path##*/} (host end of a CNI veth pair)"
done

for dir in /var/lib/cni/networks/*/; do
    for path in "$dir"*; do
        case ${path##*/} in lock | last_reserved_ip.*) continue ;; esac
        owner=$(head -n 1 "$path" 2>/dev/null | tr -d '\r')
        echo "ipam ${path#/var/lib/cni/networks/} reserved for ${owner:-?}"
    done
done
for path in /var/lib/cni/results/*; do
    echo "cache $path"
done
for path in /run/podnet/pods/*; do
    echo "pod record $path"
done
for path in /run/podnet/locks/*; do
    echo "pod lock $path"
done

if command -v iptables-save >/dev/null; then
    patterns=(-E -e '--comment "?podnet ' -e '^[a-z]+ :CNI-')
    for word in $rules; do
        patterns+=(-e "[ /]${word//./[.]}([ /]|$)")
    done
    # Each line with its table.
    iptables-save 2>/dev/null | awk '/^\*/ { table = substr($0, 2); next } { print table " " $0 }' |
        grep "${patterns[@]}" | sed 's/^/iptables -t /'
fi
if command -v nft >/dev/null && nft list table ip podnet >/dev/null 2>&1; then
    echo "nftables table ip podnet"
fi

# Pause processes and nginx masters by their command lines; workloads by their
# output, which goes to /run/podnet/pods/NAME/WORKLOAD.log (and stays open in
# whatever they fork), even after the pod's directory is gone.
declare -A procs=()
while read -r pid _; do
    procs[$pid]=
done < <(pgrep -f '/run/podnet/pause[.]py|nginx: master')
for fd in /proc/[0-9]*/fd/[12]; do
    target=$(readlink "$fd" 2>/dev/null) || continue
    [[ $target == /run/podnet/* ]] || continue
    pid=${fd#/proc/}
    procs[${pid%%/*}]=" (writes to $target)"
done
for pid in "${!procs[@]}"; do
    args=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || continue
    [[ -n $args ]] && echo "process $pid ${args% }${procs[$pid]}"
done | sort -n -k 2
if [[ -S /var/run/docker.sock ]] && command -v docker >/dev/null; then
    timeout 10 docker -H unix:///var/run/docker.sock ps -a --filter label=packetlife.podnet.pod \
        --format 'container {{.Names}} {{.Status}}' 2>/dev/null
fi
exit 0
