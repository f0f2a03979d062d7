#define _GNU_SOURCE
#include "CWhittleTrace.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <seccomp.h>

#define WT_SOCK 3
#define WT_MAX_MESSAGE 65536

const char *wt_stage_name(int stage) {
    switch (stage) {
    case WT_STAGE_UNSHARE: return "unshare(CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWIPC|CLONE_NEWUTS|CLONE_NEWCGROUP)";
    case WT_STAGE_FORK: return "fork of PID 1";
    case WT_STAGE_PRIVATE_ROOT: return "making / private";
    case WT_STAGE_UPPER_TMPFS: return "mounting the tmpfs for the overlay upper layer";
    case WT_STAGE_OVERLAY: return "mounting the overlay";
    case WT_STAGE_BIND_ROOT: return "bind-mounting the private copy";
    case WT_STAGE_MOUNTPOINTS: return "creating mount points";
    case WT_STAGE_PROC: return "mounting /proc";
    case WT_STAGE_SYS: return "bind-mounting /sys read-only";
    case WT_STAGE_DEV: return "setting up /dev (tmpfs, devpts, shm, mqueue)";
    case WT_STAGE_PIVOT_ROOT: return "pivot_root";
    case WT_STAGE_NETWORK: return "bringing up loopback";
    case WT_STAGE_WORKDIR: return "changing to WorkingDir";
    case WT_STAGE_SECCOMP_LOAD: return "loading the seccomp filter";
    case WT_STAGE_SEND_LISTENER: return "sending the seccomp listener";
    case WT_STAGE_CREDENTIALS: return "switching to the image's user";
    case WT_STAGE_MASK: return "hiding and making read-only Docker's /proc and /sys paths";
    case WT_STAGE_CAPABILITIES: return "dropping to Docker's default capabilities";
    case WT_STAGE_CONFINEMENT_LOAD: return "loading the confinement seccomp filter";
    default: return "setup";
    }
}

/* One message, with a descriptor attached when fd >= 0. */
static int send_message(int sock, void *data, size_t length, int fd) {
    struct iovec iov = {data, length};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    if (fd >= 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof control.buf;
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    }
    ssize_t sent;
    do {
        sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    return sent < 0 ? -errno : 0;
}

static int send_event(int sock, int32_t kind, int32_t a, int32_t b, int32_t stage, int fd) {
    wt_event event = {kind, a, b, stage};
    return send_message(sock, &event, sizeof event, fd);
}

static void fail(int sock, int stage) {
    send_event(sock, WT_EV_SETUP_ERROR, errno, 0, stage, -1);
    _exit(126);
}

static size_t wt_strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

/* Joins a and b into out (async-signal-safe). */
static int join(char *out, size_t size, const char *a, const char *b) {
    size_t la = wt_strlen(a), lb = wt_strlen(b);
    if (la + 1 + lb + 1 > size) return -1;
    memcpy(out, a, la);
    out[la] = '/';
    memcpy(out + la + 1, b, lb + 1);
    return 0;
}

/* A mount point inside the new root must be a real directory, never a symlink that an
 * image could point at the host. The root is throwaway (overlay upper or private copy). */
static int ensure_directory(int rootfd, const char *name, mode_t mode) {
    struct stat st;
    if (fstatat(rootfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode)) return 0;
        if (unlinkat(rootfd, name, 0) != 0) return -1;
    } else if (errno != ENOENT) {
        return -1;
    }
    return mkdirat(rootfd, name, mode);
}

static const char *env_lookup(char *const *envp, const char *name) {
    size_t n = wt_strlen(name);
    for (; envp && *envp; envp++) {
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=') return *envp + n + 1;
    }
    return NULL;
}

/* execvpe with PATH taken from envp (glibc's execvpe reads our own environment). */
static int exec_search(char *const *argv, char *const *envp) {
    const char *file = argv[0];
    if (file == NULL || file[0] == 0) return ENOENT;
    if (strchr(file, '/')) {
        execve(file, argv, envp);
        return errno;
    }
    /* The environment always has PATH: RunConfiguration adds the default one when the
     * image's Env lacks it, as Docker does. */
    const char *path = env_lookup(envp, "PATH");
    if (path == NULL) return ENOENT;
    int saved = ENOENT;
    char buf[4096];
    const char *p = path;
    while (1) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : wt_strlen(p);
        size_t flen = wt_strlen(file);
        if (len + 1 + flen + 1 <= sizeof buf) {
            if (len == 0) {
                memcpy(buf, file, flen + 1);
            } else {
                memcpy(buf, p, len);
                buf[len] = '/';
                memcpy(buf + len + 1, file, flen + 1);
            }
            execve(buf, argv, envp);
            if (errno == EACCES) saved = EACCES;
            else if (errno != ENOENT && errno != ENOTDIR) saved = errno;
        }
        if (!end) break;
        p = end + 1;
    }
    return saved;
}

static void reset_signals(void) {
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        signal(sig, SIG_DFL);
    }
}

static int become_user(const wt_spawn_config *c) {
    if (setgroups((size_t)c->ngroups, (const gid_t *)c->groups) != 0) return -1;
    if (setresgid(c->gid, c->gid, c->gid) != 0) return -1;
    if (setresuid(c->uid, c->uid, c->uid) != 0) return -1;
    return 0;
}

static int make_node(const char *path, mode_t mode, unsigned major, unsigned minor) {
    if (mknod(path, mode, makedev(major, minor)) != 0) return -1;
    return chmod(path, mode & 07777);
}

/* In a user namespace no device node can be made: the host's own is bound onto an empty
 * file instead, as rootless container engines do. */
static int bind_host_node(const char *path, const char *name) {
    char host[64] = "/dev/";
    size_t n = wt_strlen(name);
    if (n + 6 > sizeof host) { errno = ENAMETOOLONG; return -1; }
    memcpy(host + 5, name, n + 1);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) return -1;
    close(fd);
    return mount(host, path, NULL, MS_BIND, NULL);
}

static int setup_dev(const char *root, int rootless) {
    char dev[4096];
    if (join(dev, sizeof dev, root, "dev") != 0) { errno = ENAMETOOLONG; return -1; }
    if (mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=65536k") != 0) return -1;
    static const struct { const char *name; unsigned major, minor; } nodes[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
    };
    char path[4200];
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        if (join(path, sizeof path, dev, nodes[i].name) != 0) return -1;
        int rc = rootless ? bind_host_node(path, nodes[i].name)
                          : make_node(path, S_IFCHR | 0666, nodes[i].major, nodes[i].minor);
        if (rc != 0) return -1;
    }
    static const struct { const char *name, *target; } links[] = {
        {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
        {"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"}, {"core", "/proc/kcore"},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        if (join(path, sizeof path, dev, links[i].name) != 0) return -1;
        if (symlink(links[i].target, path) != 0) return -1;
    }
    /* The mounts Docker gives a container under /dev, with its options. */
    if (join(path, sizeof path, dev, "pts") != 0 || mkdir(path, 0755) != 0
        || mount("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5") != 0)
        return -1;
    if (join(path, sizeof path, dev, "shm") != 0 || mkdir(path, 01777) != 0
        || mount("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") != 0)
        return -1;
    if (join(path, sizeof path, dev, "mqueue") != 0 || mkdir(path, 0755) != 0
        || mount("mqueue", path, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        return -1;
    return 0;
}

int wt_loopback_up(void) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    int saved = errno;
    close(s);
    errno = saved;
    return rc;
}

/* mkdir -p inside the new root (after pivot_root, so paths cannot leave it). */
static int make_directories(const char *path) {
    char buf[4096];
    size_t n = wt_strlen(path);
    if (n == 0 || n >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char saved = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
            buf[i] = saved;
        }
    }
    return 0;
}

/* The host's name-resolution files, read before pivot_root and written into the new root
 * after it, as Docker gives a container its own copies: an app that resolves names during
 * the trace then behaves as it will under Docker. Copies, not bind mounts, so the app can
 * never write to the host's files; the writes land in the throwaway root. Best effort:
 * a missing host file, or an image path that cannot take it (a dangling symlink, a
 * directory, no /etc), leaves the image's own file alone. */
struct host_file {
    const char *path;
    char content[16384];
    ssize_t length;
};
static struct host_file host_files[] = {
    {"/etc/resolv.conf", {0}, -1}, {"/etc/hosts", {0}, -1}, {"/etc/hostname", {0}, -1},
};

static void read_host_files(void) {
    for (size_t i = 0; i < sizeof host_files / sizeof host_files[0]; i++) {
        struct host_file *f = &host_files[i];
        int fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t total = 0, n;
        while (total < (ssize_t)sizeof f->content
               && (n = read(fd, f->content + total, sizeof f->content - (size_t)total)) > 0)
            total += n;
        /* A file too large for the buffer is left out rather than cut short. */
        if (n >= 0 && total < (ssize_t)sizeof f->content) f->length = total;
        close(fd);
    }
}

/* After pivot_root: every path resolves inside the new root. */
static void write_host_files(void) {
    for (size_t i = 0; i < sizeof host_files / sizeof host_files[0]; i++) {
        struct host_file *f = &host_files[i];
        if (f->length < 0) continue;
        struct stat st;
        int fd;
        if (stat(f->path, &st) == 0) {
            if (!S_ISREG(st.st_mode)) continue;
            fd = open(f->path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        } else {
            if (errno != ENOENT) continue;
            fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        }
        if (fd < 0) continue;
        ssize_t written = 0, n;
        while (written < f->length && (n = write(fd, f->content + written, (size_t)(f->length - written))) > 0)
            written += n;
        close(fd);
    }
}

static void close_from(int first) {
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0) return;
    for (int fd = first; fd < 4096; fd++) close(fd);
}

/* One message, and the descriptor attached to it (or -1). */
static ssize_t recv_with_fd(int sock, char *buffer, size_t size, int *fd_out) {
    *fd_out = -1;
    struct iovec iov = {buffer, size};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    ssize_t got = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (got < 0) return got;
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) memcpy(fd_out, CMSG_DATA(cmsg), sizeof(int));
    }
    return got;
}

/* /sys read-only, as Docker mounts it. A user namespace that owns the network namespace
 * may mount a sysfs of its own; otherwise the host's is bound, with its submounts where
 * the kernel insists (it refuses to reveal what a locked submount covers), and made
 * read-only all the way down. */
static int mount_sys(const char *path, int rootless) {
    const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (!rootless) {
        if (mount("/sys", path, NULL, MS_BIND, NULL) != 0) return -1;
        return mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | ro, NULL);
    }
    if (mount("sysfs", path, "sysfs", ro, NULL) == 0) return 0;
    if (mount("/sys", path, NULL, MS_BIND | MS_REC, NULL) != 0) return -1;
    struct wt_mount_attr { uint64_t set, clr, propagation, userns_fd; } attr = {0x1 /* RDONLY */, 0, 0, 0};
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, 0x8000 /* AT_RECURSIVE */, &attr, sizeof attr);
}

/* Runs a command in a child of PID 1: the command, or a probe. Never returns. */
static void run_child(const wt_spawn_config *c, char *const *argv, int32_t probe_id, int stdout_fd) {
    reset_signals();
    if (stdout_fd >= 0) {
        dup2(stdout_fd, 1);
        close(stdout_fd);
    }
    if (become_user(c) != 0) {
        send_event(WT_SOCK, probe_id < 0 ? WT_EV_EXEC_ERROR : WT_EV_PROBE_EXEC_ERROR, errno, probe_id,
                   WT_STAGE_CREDENTIALS, -1);
        _exit(126);
    }
    int err = exec_search(argv, c->envp);
    send_event(WT_SOCK, probe_id < 0 ? WT_EV_EXEC_ERROR : WT_EV_PROBE_EXEC_ERROR, err, probe_id, 0, -1);
    _exit(127);
}

/* PID 1 of the new PID namespace: sets up the root, installs the filter, runs the command
 * and the probes, reaps everything, and reports exits to the parent. */
static void pid1(const wt_spawn_config *c) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Standard descriptors first, then the control socket as fd 3, nothing else. */
    int sock = fcntl(c->sock, F_DUPFD_CLOEXEC, 500);
    if (sock < 0) _exit(126);
    if (c->stdin_fd >= 0) dup2(c->stdin_fd, 0);
    if (c->stdout_fd >= 0) dup2(c->stdout_fd, 1);
    if (c->stderr_fd >= 0) dup2(c->stderr_fd, 2);
    if (dup3(sock, WT_SOCK, O_CLOEXEC) < 0) _exit(126);
    close_from(WT_SOCK + 1);

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail(WT_SOCK, WT_STAGE_PRIVATE_ROOT);
    if (c->use_overlay) {
        if (mount("tmpfs", c->upper, "tmpfs", 0, "mode=0755") != 0) fail(WT_SOCK, WT_STAGE_UPPER_TMPFS);
        char upper[4096], work[4096], options[12288];
        if (join(upper, sizeof upper, c->upper, "upper") != 0 || join(work, sizeof work, c->upper, "work") != 0) {
            errno = ENAMETOOLONG;
            fail(WT_SOCK, WT_STAGE_OVERLAY);
        }
        if (mkdir(upper, 0755) != 0 || mkdir(work, 0755) != 0) fail(WT_SOCK, WT_STAGE_UPPER_TMPFS);
        size_t n = 0;
        const char *parts[] = {"lowerdir=", c->lower, ",upperdir=", upper, ",workdir=", work};
        for (size_t i = 0; i < 6; i++) {
            size_t l = wt_strlen(parts[i]);
            if (n + l + 1 > sizeof options) { errno = ENAMETOOLONG; fail(WT_SOCK, WT_STAGE_OVERLAY); }
            memcpy(options + n, parts[i], l);
            n += l;
        }
        options[n] = 0;
        /* nodev: a device node in the image (or one made later) opens nothing; only /dev,
         * set up below, holds devices, as Docker's device cgroup allows. */
        if (mount("overlay", c->root, "overlay", MS_NODEV, options) != 0) fail(WT_SOCK, WT_STAGE_OVERLAY);
    } else {
        if (mount(c->lower, c->root, NULL, MS_BIND | MS_REC, NULL) != 0) fail(WT_SOCK, WT_STAGE_BIND_ROOT);
        /* In a user namespace the host's mount flags are locked, and no device node could
         * be extracted anyway. */
        if (!c->rootless && mount(NULL, c->root, NULL, MS_BIND | MS_REMOUNT | MS_NODEV, NULL) != 0)
            fail(WT_SOCK, WT_STAGE_BIND_ROOT);
    }

    int rootfd = open(c->root, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rootfd < 0) fail(WT_SOCK, WT_STAGE_MOUNTPOINTS);
    if (ensure_directory(rootfd, "proc", 0555) != 0 || ensure_directory(rootfd, "sys", 0555) != 0
        || ensure_directory(rootfd, "dev", 0755) != 0)
        fail(WT_SOCK, WT_STAGE_MOUNTPOINTS);
    close(rootfd);

    char path[4200];
    if (join(path, sizeof path, c->root, "proc") != 0
        || mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        fail(WT_SOCK, WT_STAGE_PROC);
    if (join(path, sizeof path, c->root, "sys") != 0 || mount_sys(path, c->rootless) != 0)
        fail(WT_SOCK, WT_STAGE_SYS);
    /* No tmpfs on /tmp: Docker has none, so the app writes into the image's own /tmp
     * (on the throwaway upper layer), and a slimmed image must still have it. */
    if (setup_dev(c->root, c->rootless) != 0) fail(WT_SOCK, WT_STAGE_DEV);

    read_host_files();
    if (chdir(c->root) != 0) fail(WT_SOCK, WT_STAGE_PIVOT_ROOT);
    if (syscall(SYS_pivot_root, ".", ".") != 0) fail(WT_SOCK, WT_STAGE_PIVOT_ROOT);
    if (umount2(".", MNT_DETACH) != 0) fail(WT_SOCK, WT_STAGE_PIVOT_ROOT);
    if (chdir("/") != 0) fail(WT_SOCK, WT_STAGE_PIVOT_ROOT);
    write_host_files();
    if (wt_mask_kernel_paths() != 0) fail(WT_SOCK, WT_STAGE_MASK);

    if (c->new_network && wt_loopback_up() != 0) fail(WT_SOCK, WT_STAGE_NETWORK);
    const char *workdir = c->workdir && c->workdir[0] ? c->workdir : "/";
    if (chdir(workdir) != 0) {
        /* Docker creates a missing WorkingDir; so does this (in the throwaway root). */
        if (errno != ENOENT || make_directories(workdir) != 0 || chdir(workdir) != 0) fail(WT_SOCK, WT_STAGE_WORKDIR);
    }

    /* Docker's syscall rules first, then the recording filter; the kernel runs both, and a
     * call the first refuses fails whatever the second would do. */
    int rc = seccomp_load((scmp_filter_ctx)c->confinement);
    if (rc != 0) { errno = -rc; fail(WT_SOCK, WT_STAGE_CONFINEMENT_LOAD); }
    scmp_filter_ctx ctx = (scmp_filter_ctx)c->filter;
    rc = seccomp_load(ctx);
    if (rc != 0) { errno = -rc; fail(WT_SOCK, WT_STAGE_SECCOMP_LOAD); }
    int listener = seccomp_notify_fd(ctx);
    if (listener < 0) { errno = -listener; fail(WT_SOCK, WT_STAGE_SECCOMP_LOAD); }
    if (send_event(WT_SOCK, WT_EV_READY, 0, 0, 0, listener) != 0) fail(WT_SOCK, WT_STAGE_SEND_LISTENER);
    /* Only the supervisor may hold the listener: if it dies, traced calls fail with ENOSYS. */
    close(listener);
    /* Last, once nothing more needs CAP_SYS_ADMIN: PID 1 and all it starts keep Docker's
     * capabilities and no others. */
    if (wt_drop_capabilities() != 0) fail(WT_SOCK, WT_STAGE_CAPABILITIES);

    pid_t app = fork();
    if (app < 0) fail(WT_SOCK, WT_STAGE_FORK);
    if (app == 0) run_child(c, c->argv, -1, -1);

    /* Probes: pid by id. */
    pid_t probes[64];
    int32_t probe_ids[64];
    int nprobes = 0;
    static char message[WT_MAX_MESSAGE + 1];
    static char *probe_argv[1024];
    while (1) {
        int status;
        pid_t done;
        while ((done = waitpid(-1, &status, WNOHANG)) > 0) {
            if (done == app) {
                send_event(WT_SOCK, WT_EV_APP_EXIT, status, 0, 0, -1);
                _exit(0);
            }
            for (int i = 0; i < nprobes; i++) {
                if (probes[i] == done) {
                    send_event(WT_SOCK, WT_EV_PROBE_EXIT, status, probe_ids[i], 0, -1);
                    probes[i] = probes[nprobes - 1];
                    probe_ids[i] = probe_ids[nprobes - 1];
                    nprobes--;
                    break;
                }
            }
        }
        struct pollfd pfd = {WT_SOCK, POLLIN, 0};
        int ready = poll(&pfd, 1, 20);
        if (ready <= 0) continue;
        int probe_stdout = -1;
        ssize_t got = recv_with_fd(WT_SOCK, message, WT_MAX_MESSAGE, &probe_stdout);
        if (got == 0) _exit(0); /* the parent is gone */
        if (got < (ssize_t)sizeof(wt_event)) {
            if (probe_stdout >= 0) close(probe_stdout);
            continue;
        }
        wt_event event;
        memcpy(&event, message, sizeof event);
        if (event.kind != WT_EV_PROBE || nprobes >= 64) {
            if (probe_stdout >= 0) close(probe_stdout);
            continue;
        }
        message[got] = 0;
        int argc = 0;
        char *p = message + sizeof event;
        char *end = message + got;
        while (p < end && argc < 1023) {
            probe_argv[argc++] = p;
            p += wt_strlen(p) + 1;
        }
        probe_argv[argc] = NULL;
        if (argc == 0) {
            if (probe_stdout >= 0) close(probe_stdout);
            continue;
        }
        pid_t probe = fork();
        if (probe == 0) run_child(c, probe_argv, event.b, probe_stdout);
        if (probe_stdout >= 0) close(probe_stdout);
        if (probe > 0) {
            probes[nprobes] = probe;
            probe_ids[nprobes] = event.b;
            nprobes++;
        } else {
            send_event(WT_SOCK, WT_EV_PROBE_EXEC_ERROR, errno, event.b, 0, -1);
        }
    }
}

pid_t wt_spawn(const wt_spawn_config *c) {
    pid_t helper = fork();
    if (helper < 0) return -errno;
    if (helper > 0) return helper;

    /* The helper: new namespaces, then PID 1. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Its own IPC, UTS and cgroup namespaces too, as Docker gives each container: the app
     * can neither rename the host nor see the host's cgroup tree as its root. */
    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP
        | (c->new_network ? CLONE_NEWNET : 0);
    if (unshare(flags) != 0) fail(c->sock, WT_STAGE_UNSHARE);
    pid_t init = fork();
    if (init < 0) fail(c->sock, WT_STAGE_FORK);
    if (init == 0) pid1(c);
    send_event(c->sock, WT_EV_PID, init, 0, 0, -1);
    close(c->sock);
    int status = 0;
    while (waitpid(init, &status, 0) < 0 && errno == EINTR) {}
    _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

int wt_recv_event(int sock, int timeout_ms, wt_event *event, int *fd_out) {
    *fd_out = -1;
    struct pollfd pfd = {sock, POLLIN, 0};
    int ready = poll(&pfd, 1, timeout_ms);
    if (ready < 0) return -errno;
    if (ready == 0) return -EAGAIN;
    ssize_t got = recv_with_fd(sock, (char *)event, sizeof *event, fd_out);
    if (got < 0) return -errno;
    if (got == 0) return 0;
    if (got < (ssize_t)sizeof *event) return -EPROTO;
    return 1;
}

int wt_send_probe(int sock, int32_t id, const char *payload, int length, int stdout_fd) {
    if (length < 0 || length > WT_MAX_MESSAGE - (int)sizeof(wt_event)) return -E2BIG;
    static char message[WT_MAX_MESSAGE];
    wt_event event = {WT_EV_PROBE, 0, id, 0};
    memcpy(message, &event, sizeof event);
    memcpy(message + sizeof event, payload, (size_t)length);
    return send_message(sock, message, sizeof event + (size_t)length, stdout_fd);
}

int wt_exit_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

static volatile sig_atomic_t interrupted = 0;

static void on_interrupt(int sig) {
    (void)sig;
    interrupted = 1;
}

static struct sigaction previous_int, previous_term;
static int installed = 0;

void wt_install_interrupt_handler(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    if (installed) return;
    sigaction(SIGINT, &sa, &previous_int);
    sigaction(SIGTERM, &sa, &previous_term);
    installed = 1;
}

void wt_restore_interrupt_handler(void) {
    if (!installed) return;
    sigaction(SIGINT, &previous_int, NULL);
    sigaction(SIGTERM, &previous_term, NULL);
    installed = 0;
}

int wt_interrupted(void) { return interrupted; }

void wt_request_interrupt(void) { interrupted = 1; }

uint64_t wt_makedev(uint32_t major, uint32_t minor) { return (uint64_t)makedev(major, minor); }

int wt_probe_overlay(const char *lower, const char *scratch) {
    pid_t child = fork();
    if (child < 0) return errno;
    if (child == 0) {
        if (unshare(CLONE_NEWNS) != 0) _exit(errno & 0xff);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) _exit(errno & 0xff);
        if (mount("tmpfs", scratch, "tmpfs", 0, "mode=0755") != 0) _exit(errno & 0xff);
        char upper[4096], work[4096], target[4096], options[12288];
        if (join(upper, sizeof upper, scratch, "u") != 0 || join(work, sizeof work, scratch, "w") != 0
            || join(target, sizeof target, scratch, "m") != 0)
            _exit(ENAMETOOLONG);
        if (mkdir(upper, 0755) != 0 || mkdir(work, 0755) != 0 || mkdir(target, 0755) != 0) _exit(errno & 0xff);
        size_t n = 0;
        const char *parts[] = {"lowerdir=", lower, ",upperdir=", upper, ",workdir=", work};
        for (size_t i = 0; i < 6; i++) {
            size_t l = wt_strlen(parts[i]);
            if (n + l + 1 > sizeof options) _exit(ENAMETOOLONG);
            memcpy(options + n, parts[i], l);
            n += l;
        }
        options[n] = 0;
        if (mount("overlay", target, "overlay", 0, options) != 0) _exit(errno & 0xff);
        _exit(0);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
}

int wt_fsetxattr(int fd, const char *name, const void *value, unsigned long size) {
    return fsetxattr(fd, name, value, (size_t)size, 0) == 0 ? 0 : -errno;
}
