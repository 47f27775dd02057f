#!/usr/bin/env bash
# Raw side of the cni_conf benchmark, run on the node: ssh NODE bash -s -- ACTION < cni_conf.sh
#   up    the commands the module replaces: mkdir and cat > file, the same JSON
#   down  remove the file; fail if it is left
set -euo pipefail
file=/etc/cni/net.d/10-bmc-net.conf
case $1 in
setup | cleanup) ;;
up)
    mkdir -p /etc/cni/net.d
    cat > "$file" <<'CONF'
{"cniVersion": "1.0.0", "name": "bmc-net", "type": "bridge", "bridge": "bmc-br0", "isGateway": true, "ipMasq": true,
 "ipam": {"type": "host-local", "subnet": "10.99.2.0/24", "routes": [{"dst": "0.0.0.0/0"}]}}
CONF
    ;;
down)
    rm -f "$file"
    if [ -e "$file" ]; then echo "$file left" >&2; exit 1; fi
    ;;
*) echo "unknown action $1" >&2; exit 64 ;;
esac
