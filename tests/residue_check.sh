#!/usr/bin/env bash
# Fail when tests left lab residue behind: named network namespaces, links in the
# root namespace, or processes whose arguments name one of the project's lab
# prefixes. Anything else on the machine is none of this check's business.
#
#   residue_check.sh                    fail on any residue
#   residue_check.sh --record FILE      write what exists now (before the tests)
#   residue_check.sh --baseline FILE    fail only on residue not listed in FILE
set -euo pipefail

# podlab: the demo lab; pmol: molecule labs; pt-: integration test fixtures;
# prel, psoak: the reliability suite and its soak.
prefixes=(podlab pmol pint pt- it- prel psoak)

mode=check
baseline=
case ${1:-} in
    --record) mode=record; baseline=${2:?--record needs a file} ;;
    --baseline) baseline=${2:?--baseline needs a file} ;;
    '') ;;
    *) echo "usage: $0 [--record FILE | --baseline FILE]" >&2; exit 2 ;;
esac

ours() {
    local name=$1 prefix
    for prefix in "${prefixes[@]}"; do
        [[ $name == "$prefix"* ]] && return 0
    done
    return 1
}

inventory() {
    local name pid args word
    # `ip netns list` prints "NAME" or "NAME (id: N)".
    while read -r name _; do
        [[ -n $name ]] && ours "$name" && echo "netns $name"
    done < <(ip netns list)
    # `ip -o link` prints "N: NAME@PEER: ..."; the peer part goes.
    while read -r _ name _; do
        name=${name%:}
        name=${name%%@*}
        ours "$name" && echo "link $name"
    done < <(ip -o link show)
    # A process counts when a word of its command line, or a path component or
    # option value in one, starts with a prefix (tini holding a lab node, the sshd
    # started for it with its config under /var/lib/podnet-lab/<lab>/).
    while read -r pid args; do
        for word in ${args//[\/=]/ }; do
            if ours "$word"; then
                echo "process $pid $args"
                break
            fi
        done
    done < <(ps -eo pid=,args=)
    # What Ansible unpacks a module into, left when the module is killed.
    for path in /tmp/ansible_packetlife.podnet.*; do
        if [[ -e $path ]]; then
            echo "tmp $path"
        fi
    done
}

found=$(inventory | sort -u)

if [[ $mode == record ]]; then
    mkdir -p "$(dirname "$baseline")"
    printf '%s\n' "$found" > "$baseline"
    exit 0
fi

residue=$found
if [[ -n $baseline && -f $baseline ]]; then
    # Whole lines are compared: a process is the same one when pid and args match.
    residue=$(comm -23 <(printf '%s\n' "$found") <(sort -u "$baseline"))
    preexisting=$(comm -12 <(printf '%s\n' "$found") <(sort -u "$baseline"))
    if [[ -n $preexisting ]]; then
        echo "residue check: present before the tests, left alone:"
        printf '%s\n' "$preexisting" | sed 's/^/  /'
    fi
fi

residue=$(printf '%s\n' "$residue" | sed '/^$/d')
if [[ -n $residue ]]; then
    echo "residue check: FAILED, the tests left these behind:" >&2
    printf '%s\n' "$residue" | sed 's/^/  /' >&2
    exit 1
fi
echo "residue check: clean (prefixes: ${prefixes[*]})"
