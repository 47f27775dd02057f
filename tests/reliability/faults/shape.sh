#!/usr/bin/env bash
# Print the shape of a lab node's pod networking: what exists, by name where names
# are stable and by count where they are not (the bridge plugin's host-side veth
# names, addresses host-local hands out anew). Two shapes are equal when the same
# objects exist, so a fault that a converge repaired without leaking anything
# leaves the shape it found.
# shellcheck disable=SC2009,SC2012
set -uo pipefail

echo "== netns"
ip netns list | cut -d' ' -f1 | sort
echo "== nsfs mounts under /run/netns: $(grep -c ' /run/netns/' /proc/self/mountinfo)"
echo "== links"
ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -Ev '^veth[0-9a-f]{8}$' | sort
echo "bridge plugin veths: $(ip -o link show | awk -F': ' '{print $2}' | grep -cE '^veth[0-9a-f]{8}(@|$)')"
for bridge in /sys/class/net/*/brif; do
    name=${bridge%/brif}
    ports=$(find "$bridge" -mindepth 1 -maxdepth 1 | wc -l)
    # A bridge without ports goes down on its own some time after the last one left.
    echo "ports of ${name##*/}: $ports$( ((ports)) && echo ", $(cat "$name/operstate")")"
done
echo "== links with their state, and global addresses per interface, per namespace"
for ns in '' $(ip netns list | cut -d' ' -f1 | sort); do
    echo "${ns:-(node)}: $(ip ${ns:+-n "$ns"} -br link | awk '{print $1, $2}' | sed 's/@[^ ]*//' | grep -Ev '^veth[0-9a-f]{8} ' | sort | while read -r link state; do
        [[ -z $ns && -d /sys/class/net/$link/bridge ]] && state='(bridge)'
        echo "$link $state"
    done | tr '\n' ',')"
    echo "${ns:-(node)}: $(ip ${ns:+-n "$ns"} -o addr show scope global | awk '{print $2}' | sort | uniq -c | tr -s ' ' | tr '\n' ',')"
done
echo "== IPAM reservations (network: container ifname)"
for dir in /var/lib/cni/networks/*/; do
    [[ -d $dir ]] || continue
    for file in "$dir"*; do
        case ${file##*/} in lock | last_reserved_ip.*) continue ;; esac
        echo "$(basename "$dir"): $(tr '\r\n' '  ' < "$file")"
    done
done | sort
echo "== CNI cache"
ls /var/lib/cni/results 2>/dev/null | sort
echo "== pod records and locks"
ls /run/podnet/pods /run/podnet/locks 2>/dev/null
echo "== iptables rules per table and chain"
for table in nat filter; do
    iptables-save -t "$table" | awk -v t="$table" '/^-A /{print t, $2}' | sort | uniq -c
    echo "duplicate rules in $table: $(iptables-save -t "$table" | grep '^-A' | sort | uniq -d | wc -l)"
    # The collection's own rules, whole: their text is stable.
    iptables-save -t "$table" | grep -e '--comment "podnet ' | sort
done
echo "== processes"
ps -eo args= | grep -E '^[^ ]*python[0-9.]* /run/podnet/pause[.]py ' | awk '{print "pause", $3}' | sort
echo "nginx masters: $(pgrep -c -f '^nginx: master')"
echo "processes of fault plugins: $(pgrep -c -f 'podnet-fault')"
