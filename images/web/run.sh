#!/bin/sh
# Entry point of packetlife.podnet's web image: busybox httpd in the foreground
# on port ${PORT:-80}, serving /www. As PID 1 of a container it gets no default
# signal actions, so SIGTERM and SIGINT are handled here: httpd is stopped and the
# container leaves at once instead of waiting for `docker stop` to send SIGKILL.
httpd -f -p "${PORT:-80}" -h /www &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid"; exit 0' TERM INT
wait "$pid"
