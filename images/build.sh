#!/usr/bin/env bash
# Build packetlife.podnet's container images from local files and import them into
# a Docker engine. Nothing is pulled from a registry.
#
#   bash images/build.sh [pause] [web]      (both when none is named)
#
#   pause  podnet/pause:latest - images/pause/pause.c compiled with `gcc -static -Os`,
#          the only file of the image; the pause_pod module's default pause_image.
#   web    podnet/web:latest - Debian's busybox-static serving images/web/index.html
#          (a page with "Welcome to nginx!") with httpd on port 80; a stand-in for the
#          tutorial's nginx that the tests use as a workload.
#
# Needs gcc and libc6-dev (pause), busybox-static (web) and a docker CLI.
# Environment:
#   DOCKER       the docker CLI to run (default: docker on PATH)
#   DOCKER_HOST  the engine to import into, as the CLI reads it
#   PAUSE_IMAGE, WEB_IMAGE   the names to give the images (defaults above)
#
# An image is rebuilt only when its sources changed: each carries the SHA-256 of its
# sources in the label packetlife.podnet.source, compared before building. A rebuilt
# image gets a new ID, so pause_pod replaces the workload containers made from it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
docker=${DOCKER:-docker}
pause_image=${PAUSE_IMAGE:-podnet/pause:latest}
web_image=${WEB_IMAGE:-podnet/web:latest}
busybox=/bin/busybox
label=packetlife.podnet.source

die() {
    echo "images: $*" >&2
    exit 1
}

workdir=$(mktemp -d /tmp/podnet-images.XXXXXX)
trap 'rm -rf "$workdir"' EXIT

# The value of the source label of image $1, or nothing if it is missing.
current_source() {
    "$docker" image inspect --format "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true
}

# import IMAGE SOURCE ROOTFS CHANGE...: import the directory ROOTFS as IMAGE with the
# Dockerfile instructions CHANGE, labelled with SOURCE, and drop the image it replaces.
import() {
    local image=$1 source=$2 rootfs=$3 old change changes=()
    shift 3
    old=$("$docker" image inspect --format '{{ .Id }}' "$image" 2>/dev/null || true)
    for change in "$@" "LABEL $label=$source"; do
        changes+=(--change "$change")
    done
    tar --numeric-owner --owner=0 --group=0 -C "$rootfs" -c . \
        | "$docker" image import "${changes[@]}" - "$image" >/dev/null
    echo "images: $image imported ($("$docker" image inspect --format '{{ .Id }}' "$image"))"
    if [[ -n $old ]]; then
        # Still used by a container: then the engine keeps it, and says so.
        "$docker" image rm "$old" >/dev/null 2>&1 || echo "images: the previous $image ($old) is still in use, kept"
    fi
}

build_pause() {
    local source rootfs=$workdir/pause
    command -v gcc >/dev/null || die "gcc is missing (apt-get install gcc libc6-dev)"
    source=$(cat "$here/pause/pause.c" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)
    if [[ $(current_source "$pause_image") == "$source" ]]; then
        echo "images: $pause_image is up to date"
        return
    fi
    mkdir -p "$rootfs"
    gcc -static -Os -Wall -Wextra -Werror -o "$rootfs/pause" "$here/pause/pause.c"
    strip "$rootfs/pause"
    [[ $("$rootfs/pause" -v) == "podnet pause 1.0" ]] || die "the pause binary does not run"
    if ldd "$rootfs/pause" >/dev/null 2>&1; then
        die "the pause binary is not static"
    fi
    import "$pause_image" "$source" "$rootfs" 'ENTRYPOINT ["/pause"]'
}

build_web() {
    local source rootfs=$workdir/web applet
    [[ -x $busybox ]] || die "$busybox is missing (apt-get install busybox-static)"
    if ldd "$busybox" >/dev/null 2>&1; then
        die "$busybox is not static: install busybox-static, not busybox"
    fi
    source=$(cat "$busybox" "$here/web/index.html" "$here/web/run.sh" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)
    if [[ $(current_source "$web_image") == "$source" ]]; then
        echo "images: $web_image is up to date"
        return
    fi
    mkdir -p "$rootfs/bin" "$rootfs/www" "$rootfs/tmp"
    chmod 1777 "$rootfs/tmp"
    cp "$busybox" "$rootfs/bin/busybox"
    for applet in $("$busybox" --list); do
        [[ $applet == busybox ]] || ln -s busybox "$rootfs/bin/$applet"
    done
    install -m 0644 "$here/web/index.html" "$rootfs/www/index.html"
    install -m 0755 "$here/web/run.sh" "$rootfs/bin/podnet-web"
    import "$web_image" "$source" "$rootfs" 'ENV PATH=/bin' 'CMD ["/bin/podnet-web"]' 'EXPOSE 80'
}

"$docker" version --format '{{ .Server.Version }}' >/dev/null \
    || die "no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-unset}, CLI $docker)"

targets=("$@")
(( ${#targets[@]} > 0 )) || targets=(pause web)
for target in "${targets[@]}"; do
    case $target in
        pause) build_pause ;;
        web) build_web ;;
        *) die "unknown image $target; choose pause and/or web" ;;
    esac
done
