/*
 * podnet pause: the process that holds a pod's namespaces for packetlife.podnet.
 *
 * Copyright (c) packetlife.podnet contributors
 * GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * It does what the pause container of a Kubernetes pod does, and no more:
 *   - sleeps forever in pause(2), so the namespaces it lives in stay alive;
 *   - as PID 1 of a container, reaps every child that ends (SIGCHLD), so no
 *     zombie is left when processes of the pod are reparented to it;
 *   - leaves with status 0 on SIGTERM or SIGINT (a PID 1 gets no default
 *     signal actions, so without handlers `docker stop` would wait for SIGKILL).
 *
 * Built static (`gcc -static -Os`) so that the image holds one file and nothing
 * else: see images/build.sh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void leave(int sig)
{
    (void)sig;
    _exit(0);
}

static void reap(int sig)
{
    int saved = errno;

    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    errno = saved;
}

static int handle(int sig, void (*handler)(int), int flags)
{
    struct sigaction action;

    memset(&action, 0, sizeof(action));
    action.sa_handler = handler;
    action.sa_flags = flags;
    sigemptyset(&action.sa_mask);
    return sigaction(sig, &action, NULL);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        puts("podnet pause 1.0");
        return 0;
    }
    if (handle(SIGTERM, leave, 0) != 0 || handle(SIGINT, leave, 0) != 0
        || handle(SIGCHLD, reap, SA_NOCLDSTOP | SA_RESTART) != 0) {
        perror("pause: sigaction");
        return 1;
    }
    /* Children that ended before the handler was in place. */
    reap(SIGCHLD);
    for (;;)
        pause();
}
