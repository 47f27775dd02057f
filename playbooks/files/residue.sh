#!/usr/bin/env bash
# Print one line per thing of the tutorial still on this host (nothing: clean).
#   residue.sh --netns "NAMES" --links "NAMES" --files "PATHS" [--rules "WORDS"]
# Also: any iptables rule with a "podnet" comment, a CNI- chain or one of WORDS
# (such as a subnet: rules made by hand carry no comment), nftables' table ip
# podnet, and pause or nginx processes started for pods.
set -uo pipefail

netns='' links='' files='' rules=''
while (( $# )); do
    case $1 in
        --netns) netns=$2; shift 2 ;;
        --links) links=$2; shift 2 ;;
        --files) files=$2; shift 2 ;;
        --rules) rules=$2; shift 2 ;;
        *) echo "usage: $0 --netns NAMES --links NAMES --files PATHS [--rules WORDS]" >&2; exit 2 ;;
    esac
done

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
if command -v iptables-save >/dev/null; then
    patterns=(-E -e '--comment "?podnet ' -e '^:CNI-')
    for word in $rules; do
        patterns+=(-e "[ /]${word//./[.]}([ /]|$)")
    done
    iptables-save | grep "${patterns[@]}" | sed 's/^/iptables /'
fi
if command -v nft >/dev/null && nft list table ip podnet >/dev/null 2>&1; then
    echo "nftables table ip podnet"
fi
pgrep -a -f '/run/podnet/pause[.]py|nginx: master' | sed 's/^/process /'
exit 0
