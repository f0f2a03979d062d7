#define _GNU_SOURCE
#include "CWhittleTrace.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Tracing without root: whittle runs itself again as root of a user namespace whose ids
 * map onto the caller's own and its subordinate ranges, with a network namespace of its
 * own. Everything that needs root (extracting with the image's owners, the sandbox's
 * namespaces and mounts, the seccomp listener) then happens there, and nothing it does
 * reaches further than the caller could. */

const char *wt_userns_stage_name(int stage) {
    switch (stage) {
    case WT_USERNS_PIPE: return "making a pipe";
    case WT_USERNS_FORK: return "forking";
    case WT_USERNS_UNSHARE: return "unshare(CLONE_NEWUSER|CLONE_NEWNET)";
    case WT_USERNS_UIDMAP: return "newuidmap";
    case WT_USERNS_GIDMAP: return "newgidmap";
    case WT_USERNS_GROUPS: return "dropping the caller's supplementary groups";
    case WT_USERNS_LOOPBACK: return "bringing up loopback";
    case WT_USERNS_EXEC: return "executing whittle again";
    default: return "entering the user namespace";
    }
}

static int write_all(int fd, const void *data, size_t length) {
    const char *p = data;
    while (length > 0) {
        ssize_t n = write(fd, p, length);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        length -= (size_t)n;
    }
    return 0;
}

static int read_byte(int fd, char *byte) {
    ssize_t n;
    do {
        n = read(fd, byte, 1);
    } while (n < 0 && errno == EINTR);
    return n == 1 ? 0 : -1;
}

/* The child: new namespaces, a wait for its map, then whittle again. Reports the failed
 * stage and errno on `report` (close-on-exec, so a successful exec says nothing). */
static void enter_and_exec(const wt_userns_config *c, int ready, int mapped, int report) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int32_t failure[2] = {0, 0};
    char byte = 0;
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
        failure[0] = WT_USERNS_UNSHARE;
        goto failed;
    }
    if (write_all(ready, "u", 1) != 0 || read_byte(mapped, &byte) != 0 || byte != 'm') _exit(125);
    /* Now root of the namespace; the caller's other groups would show as nobody's. */
    if (setgroups(0, NULL) != 0) {
        failure[0] = WT_USERNS_GROUPS;
        goto failed;
    }
    if (wt_loopback_up() != 0) {
        failure[0] = WT_USERNS_LOOPBACK;
        goto failed;
    }
    execve(c->executable, c->argv, c->envp);
    failure[0] = WT_USERNS_EXEC;
failed:
    failure[1] = errno;
    write_all(report, failure, sizeof failure);
    _exit(125);
}

/* Runs newuidmap or newgidmap PID 0 ID 1 1 START COUNT and waits for it. 0 or -1. */
static int run_map(const char *tool, pid_t pid, uint32_t own, uint32_t start, uint32_t count) {
    char args[5][24];
    snprintf(args[0], sizeof args[0], "%d", (int)pid);
    snprintf(args[1], sizeof args[1], "%u", own);
    snprintf(args[2], sizeof args[2], "%u", start);
    snprintf(args[3], sizeof args[3], "%u", count);
    char *argv[] = {(char *)tool, args[0], "0", args[1], "1", "1", args[2], args[3], NULL};
    pid_t helper = fork();
    if (helper < 0) return -1;
    if (helper == 0) {
        execv(tool, argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(helper, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    errno = EPERM;
    return -1;
}

pid_t wt_userns_start(const wt_userns_config *c, int *stage, int *error) {
    *stage = 0;
    *error = 0;
    int ready[2], mapped[2], report[2];
    if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(mapped, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0) {
        *stage = WT_USERNS_PIPE;
        *error = errno;
        return -1;
    }
    pid_t child = fork();
    if (child < 0) {
        *stage = WT_USERNS_FORK;
        *error = errno;
        return -1;
    }
    if (child == 0) enter_and_exec(c, ready[1], mapped[0], report[1]);
    close(ready[1]);
    close(mapped[0]);
    close(report[1]);
    char byte = 0;
    int ok = read_byte(ready[0], &byte) == 0 && byte == 'u';
    if (ok) {
        if (run_map(c->newuidmap, child, c->uid, c->subuid_start, c->subuid_count) != 0) {
            *stage = WT_USERNS_UIDMAP;
            *error = errno;
            ok = 0;
        } else if (run_map(c->newgidmap, child, c->gid, c->subgid_start, c->subgid_count) != 0) {
            *stage = WT_USERNS_GIDMAP;
            *error = errno;
            ok = 0;
        } else {
            ok = write_all(mapped[1], "m", 1) == 0;
        }
    }
    close(ready[0]);
    close(mapped[1]);
    int32_t failure[2] = {0, 0};
    ssize_t got;
    do {
        got = read(report[0], failure, sizeof failure);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof failure) {
        *stage = failure[0];
        *error = failure[1];
        ok = 0;
    }
    if (!ok) {
        if (*stage == 0) *stage = WT_USERNS_UNSHARE;
        kill(child, SIGKILL);
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
        return -1;
    }
    return child;
}

int wt_wait_status(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return wt_exit_code(status);
}
