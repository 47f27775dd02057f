#!/usr/bin/env bash
# Tests of pause_pod's docker backend and netns's container adoption, on this
# host (connection local), against a private Docker engine started here:
#
#   bash tests/docker/run.sh [-v] [other ansible-playbook options]
#
# The engine is Debian's dockerd (package docker.io) with everything of its own
# under /run/pt-dk-engine and /var/lib/pt-dk-engine: its socket, exec root, data
# root, pid file, configuration and key. It makes no bridge, no iptables rules and
# leaves IP forwarding alone (--bridge=none --iptables=false --ip6tables=false
# --ip-forward=false --ip-masq=false); containers' cgroups go under pt-dk-engine.
# The images come from images/build.sh (pause from its C source, web from
# busybox-static), imported into that engine; nothing is pulled. The tests'
# CNI network is the bridge pt-dk0 on 198.18.6.0/24, with its configuration and
# host-local's reservations under /run/pt-dk-test.
#
# Whatever happens, the engine is stopped by its PID, its mounts, directories and
# cgroups are removed with everything the tests made, and the host is checked for
# anything left: no docker0, no DOCKER iptables chains, no process, mount, netns,
# link or file of ours. If no engine can be started here, the tests are skipped
# with the reason (exit 0); set PODNET_DOCKER_REQUIRED=1 to fail instead.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

engine_run=/run/pt-dk-engine
engine_data=/var/lib/pt-dk-engine
test_dir=/run/pt-dk-test
socket=$engine_run/docker.sock
docker_host=unix://$socket
dockerd=/usr/sbin/dockerd
# Debian's CLI, of the engine's own version: not /usr/local/bin/docker or whatever
# else comes first on PATH.
docker_cli=/usr/bin/docker
logs=$repo/tests/output/docker
ansible_playbook=$repo/.venv/bin/ansible-playbook
mkdir -p "$logs"

say() {
    echo "docker: $*"
}

skip() {
    say "SKIPPED: $*"
    if [[ ${PODNET_DOCKER_REQUIRED:-0} == 1 ]]; then
        exit 1
    fi
    exit 0
}

docker_cmd() {
    "$docker_cli" -H "$docker_host" "$@"
}

# Host directories made when missing, outside the private ones: by the engine (its
# plugin socket directory, the containerd shims' socket directory) and by the
# modules (pod records, /run/netns, the CNI result cache). Those missing now are
# removed again afterwards, if empty.
host_dirs=(/run/docker/plugins /run/docker /run/containerd/s /run/containerd /run/podnet/pods /run/podnet/locks /run/podnet
    /run/netns /var/lib/cni/results /var/lib/cni)
created_dirs=()
for dir in "${host_dirs[@]}"; do
    [[ -e $dir ]] || created_dirs+=("$dir")
done
key_before=absent
[[ -e /etc/docker/key.json ]] && key_before=present
forward_before=$(cat /proc/sys/net/ipv4/ip_forward)

engine_pid=

# The PIDs of processes of our engine: dockerd by its PID, containerd and the
# shims by our private paths in their arguments (never by program name).
our_pids() {
    local pid args
    while read -r pid args; do
        case $args in
            *"$engine_run"*|*"$engine_data"*) echo "$pid" ;;
        esac
    done < <(ps -eo pid=,args=)
}

stop_engine() {
    local pid i ids
    if [[ -n $engine_pid ]] && kill -0 "$engine_pid" 2>/dev/null; then
        # Containers first, so that the engine has nothing to wait for.
        mapfile -t ids < <(docker_cmd ps -aq 2>/dev/null || true)
        if (( ${#ids[@]} > 0 )); then
            docker_cmd rm -f "${ids[@]}" >/dev/null 2>&1 || true
        fi
        kill -TERM "$engine_pid" || true
        for (( i = 0; i < 150; i++ )); do
            kill -0 "$engine_pid" 2>/dev/null || break
            sleep 0.2
        done
    fi
    # Whatever of ours is still there (an engine that did not stop, its containerd
    # or a shim) is killed by PID.
    for pid in $(our_pids); do
        say "killing leftover process $pid: $(ps -o args= -p "$pid" || true)"
        kill -KILL "$pid" 2>/dev/null || true
    done
    engine_pid=
}

# Cleanup carries on past a failure: check_host reports whatever stayed.
remove_engine_files() {
    local target dir
    # Deepest mounts first: overlay mounts, netns files, the data root's bind mount.
    while read -r target; do
        umount "$target" 2>/dev/null || umount -l "$target" || say "cannot unmount $target"
    done < <(findmnt -rn -o TARGET | grep -E "^($engine_run|$engine_data)(/|$)" | sort -r)
    rm -rf "$engine_run" "$engine_data" || say "cannot remove $engine_run or $engine_data"
    # The engine's cgroup parent in every hierarchy, with any container cgroup a killed engine left.
    for dir in /sys/fs/cgroup/*/pt-dk-engine /sys/fs/cgroup/pt-dk-engine; do
        if [[ -d $dir ]]; then
            find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || say "cannot remove cgroup $dir"
        fi
    done
    if [[ $key_before == absent && -e /etc/docker/key.json ]]; then
        rm -f /etc/docker/key.json
    fi
}

remove_created_dirs() {
    local dir
    for dir in "${created_dirs[@]}"; do
        # The native backend's pause program (pods of backend auto), when its directory is ours.
        if [[ $dir == /run/podnet ]]; then
            rm -f /run/podnet/pause.py /run/podnet/pause.py.tmp
        fi
    done
    for dir in "${created_dirs[@]}"; do
        if [[ -d $dir ]]; then
            rmdir "$dir" 2>/dev/null || say "$dir is not empty (someone else uses it now), left"
        fi
    done
}

# What the tests make in the host's own places, named for them.
remove_test_objects() {
    local path
    # Processes of native pods (backend auto without an engine) a failed run left:
    # the very processes their records name (PID and start time), nothing else.
    for path in /run/podnet/pods/pt-dk-*/state.json; do
        [[ -e $path ]] || continue
        python3 - "$path" <<'EOF'
import json, os, signal, sys
record = json.load(open(sys.argv[1]))
for proc in [record.get('pause') or {}] + (record.get('workloads') or []):
    try:
        with open('/proc/%d/stat' % proc['pid']) as stat:
            start = int(stat.read().rsplit(')', 1)[1].split()[19])
        if start == proc.get('start'):
            os.kill(proc['pid'], signal.SIGKILL)
    except (KeyError, TypeError, OSError, ValueError, IndexError):
        pass
EOF
    done
    for path in /run/netns/pt-dk-*; do
        if [[ -L $path ]]; then
            rm -f "$path"
        elif [[ -e $path ]]; then
            ip netns del "${path##*/}" || say "cannot delete netns ${path##*/}"
        fi
    done
    # pause_pod's lock files (by pod name and container ID) of the test pods.
    rm -rf /run/podnet/pods/pt-dk-* /run/podnet/locks/pod-pt-dk-* /run/podnet/locks/cid-pt-dk-* "$test_dir" \
        /var/lib/cni/results/pt-dk-net-*
    if ip link show pt-dk0 >/dev/null 2>&1; then
        ip link del pt-dk0 || say "cannot delete link pt-dk0"
    fi
}

# Fail when anything of ours, or of any Docker engine, is left on the host.
check_host() {
    local left=()
    ip link show docker0 >/dev/null 2>&1 && left+=("link docker0")
    while read -r name; do left+=("link $name"); done < <(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^pt-dk' || true)
    for save in iptables-save ip6tables-save; do
        if command -v "$save" >/dev/null && "$save" 2>/dev/null | grep -q 'DOCKER'; then
            left+=("$save: DOCKER chains or rules")
        fi
    done
    for pid in $(our_pids); do left+=("process $pid $(ps -o args= -p "$pid" || true)"); done
    while read -r target; do left+=("mount $target"); done < <(findmnt -rn -o TARGET | grep -E 'pt-dk' || true)
    for path in /run/netns/pt-dk-* /run/podnet/pods/pt-dk-* /var/lib/cni/results/pt-dk-* "$engine_run" "$engine_data" \
        "$test_dir" /sys/fs/cgroup/*/pt-dk-engine; do
        [[ -e $path || -L $path ]] && left+=("file $path")
    done
    [[ $key_before == absent && -e /etc/docker/key.json ]] && left+=("file /etc/docker/key.json")
    [[ $(cat /proc/sys/net/ipv4/ip_forward) == "$forward_before" ]] || left+=("net.ipv4.ip_forward changed")
    if (( ${#left[@]} > 0 )); then
        say "FAILED: left behind on the host:"
        printf '  %s\n' "${left[@]}" >&2
        return 1
    fi
    say "host clean: no docker0, no DOCKER chains, no engine process, mount, netns, link, cgroup or file of the tests"
}

finish() {
    local status=$?
    trap - EXIT INT TERM
    say "stopping the engine and removing what the tests made"
    stop_engine
    remove_test_objects
    remove_engine_files
    remove_created_dirs
    check_host || status=1
    exit "$status"
}

# start_engine DRIVER: start dockerd with storage driver DRIVER and wait for it;
# returns non-zero (engine stopped again) when it does not come up.
start_engine() {
    local driver=$1 i
    mkdir -p "$engine_run/exec" "$engine_data"
    chmod 0700 "$engine_run" "$engine_data"
    # The engine would otherwise read /etc/docker/daemon.json and write /etc/docker/key.json.
    printf '{"deprecated-key-path": "%s/key.json"}\n' "$engine_run" > "$engine_run/daemon.json"
    "$dockerd" --config-file "$engine_run/daemon.json" --host "$docker_host" \
        --data-root "$engine_data" --exec-root "$engine_run/exec" --pidfile "$engine_run/dockerd.pid" \
        --storage-driver "$driver" --bridge=none --iptables=false --ip6tables=false --ip-forward=false \
        --ip-masq=false --userland-proxy=false --cgroup-parent pt-dk-engine \
        >"$logs/dockerd-$driver.log" 2>&1 < /dev/null &
    engine_pid=$!
    for (( i = 0; i < 150; i++ )); do
        if docker_cmd version >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$engine_pid" 2>/dev/null || break
        sleep 0.2
    done
    say "dockerd with storage driver $driver did not come up; its log ends with:"
    tail -n 5 "$logs/dockerd-$driver.log" | sed 's/^/  /'
    stop_engine
    remove_engine_files
    return 1
}

start=$SECONDS
(( EUID == 0 )) || skip "needs root"
[[ -x $dockerd ]] || skip "$dockerd is missing (apt-get install docker.io)"
[[ -x $docker_cli ]] || skip "$docker_cli is missing (apt-get install docker.io)"
for need in gcc /bin/busybox /usr/lib/cni/bridge /usr/lib/cni/host-local "$ansible_playbook"; do
    command -v "$need" >/dev/null || { say "FAILED: $need is missing (make deps)"; exit 1; }
done

# Leftovers of an earlier run that was killed: an engine of ours, our files.
stop_engine
for pid in $(our_pids); do kill -KILL "$pid" 2>/dev/null || true; done
remove_test_objects
remove_engine_files

trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

driver=
for candidate in overlay2 vfs; do
    if start_engine "$candidate"; then
        driver=$candidate
        break
    fi
done
[[ -n $driver ]] || skip "no Docker engine could be started here (see $logs/dockerd-*.log)"
say "engine $(docker_cmd version --format '{{ .Server.Version }} (API {{ .Server.APIVersion }})'), storage driver $(docker_cmd info --format '{{ .Driver }}'), pid $engine_pid, at $docker_host"

say "building the images (images/build.sh)"
DOCKER=$docker_cli DOCKER_HOST=$docker_host bash images/build.sh | sed 's/^/  /'

say "running tests/docker/docker.yml"
ANSIBLE_STDOUT_CALLBACK=podnet_quiet \
ANSIBLE_CALLBACK_PLUGINS=$repo/tests/integration/callback_plugins \
    "$ansible_playbook" -i localhost, -c local tests/docker/docker.yml \
    -e "it_docker_host=$docker_host" -e "it_docker_cli=$docker_cli" -e "it_test_dir=$test_dir" "$@"

say "passed in $((SECONDS - start)) s"
