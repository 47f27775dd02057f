#!/usr/bin/env bash
# Raw side of the cni_plugins benchmark, run on the node: ssh NODE bash -s -- ACTION < cni_plugins.sh
#   up    the commands the module replaces (the tutorial's tar -xzf -C /opt/cni/bin, here from a
#         directory): mkdir and cp of the four plugins
#   down  remove the plugins and the module's manifest from /opt/cni/bin; fail if any is left
set -euo pipefail
dest=/opt/cni/bin
plugins=(bridge host-local loopback portmap)
case $1 in
setup | cleanup) ;;
up)
    mkdir -p $dest
    for p in "${plugins[@]}"; do cp /usr/lib/cni/"$p" $dest/; done
    ;;
down)
    for p in "${plugins[@]}" .podnet-cni-plugins.json; do rm -f "${dest:?}/$p"; done
    rmdir $dest 2>/dev/null || true  # only if empty; /opt/cni is the node's own tmpfs
    if [ -e $dest ]; then echo "left in $dest: $(ls -A $dest)" >&2; exit 1; fi
    ;;
*) echo "unknown action $1" >&2; exit 64 ;;
esac
