#ifndef CWHITTLETRACE_H
#define CWHITTLETRACE_H

#include <stdint.h>
#include <sys/types.h>

/* Everything whittle does between fork and exec, and the seccomp notification loop.
 * Swift's Glibc lacks unshare, CLONE_* and prctl, and a forked multithreaded process
 * may only make async-signal-safe calls, so this lives in C. */

/* Events exchanged over the SOCK_SEQPACKET control socket. */
enum {
    WT_EV_PID = 1,          /* a = host pid of the namespace's PID 1 */
    WT_EV_READY = 2,        /* the seccomp listener fd is attached */
    WT_EV_SETUP_ERROR = 3,  /* a = errno, stage = WT_STAGE_* */
    WT_EV_EXEC_ERROR = 4,   /* a = errno: the command could not be executed */
    WT_EV_APP_EXIT = 5,     /* a = wait status of the command */
    WT_EV_PROBE_EXIT = 6,   /* a = wait status, b = probe id */
    WT_EV_PROBE_EXEC_ERROR = 7, /* a = errno, b = probe id */
    WT_EV_PROBE = 8,        /* parent to init: b = probe id, payload = NUL-separated argv */
};

typedef struct {
    int32_t kind;
    int32_t a;
    int32_t b;
    int32_t stage;
} wt_event;

/* Where the child was when a setup step failed. */
enum {
    WT_STAGE_UNSHARE = 1, WT_STAGE_FORK, WT_STAGE_PRIVATE_ROOT, WT_STAGE_UPPER_TMPFS, WT_STAGE_OVERLAY,
    WT_STAGE_BIND_ROOT, WT_STAGE_MOUNTPOINTS, WT_STAGE_PROC, WT_STAGE_SYS, WT_STAGE_DEV,
    WT_STAGE_PIVOT_ROOT, WT_STAGE_NETWORK, WT_STAGE_WORKDIR, WT_STAGE_SECCOMP_LOAD, WT_STAGE_SEND_LISTENER,
    WT_STAGE_CREDENTIALS, WT_STAGE_MASK, WT_STAGE_CAPABILITIES, WT_STAGE_CONFINEMENT_LOAD,
};

const char *wt_stage_name(int stage);

typedef struct {
    const char *lower;       /* the extracted image (host path) */
    const char *root;        /* an empty directory: the new root is mounted here */
    const char *upper;       /* an empty directory: the tmpfs for overlay upper/work goes here */
    int use_overlay;         /* 1: overlay(lower, tmpfs); 0: lower is a private copy, bound as root */
    int new_network;         /* 1: own network namespace with only loopback up */
    const char *workdir;     /* inside the new root */
    char *const *argv;       /* the command */
    char *const *envp;       /* its environment (PATH is searched here) */
    uint32_t uid, gid;
    const uint32_t *groups;
    int ngroups;
    void *filter;            /* from wt_filter_create */
    void *confinement;       /* from wt_confinement_create */
    int rootless;            /* 1: inside a user namespace (no mknod, locked host mounts) */
    int sock;                /* the child's end of the control socket */
    int stdin_fd, stdout_fd, stderr_fd; /* -1: inherit */
} wt_spawn_config;

/* libseccomp's API level (5 or more is needed for user notification). */
int wt_seccomp_api(void);

/* Builds the filter in the parent: notify on path syscalls, ENOSYS for io_uring_setup,
 * allow everything else and foreign architectures, no no_new_privs. 0 or -errno. */
int wt_filter_create(void **out);
void wt_filter_release(void *filter);

/* Docker's default seccomp profile as a filter: EPERM for what it does not allow,
 * ENOSYS for clone3, and device nodes refused by mknod. 0 or -errno. Released with
 * wt_filter_release. */
int wt_confinement_create(void **out);

/* Docker's default capability set, as a bit mask (CapBnd under `docker run`). */
uint64_t wt_default_capabilities(void);

/* Limits the calling process (and what it starts) to Docker's default capabilities:
 * bounding, effective and permitted sets; inheritable and ambient cleared. 0 or -1. */
int wt_drop_capabilities(void);

/* Hides Docker's masked /proc and /sys paths and makes its read-only ones read-only,
 * inside the new root. 0 or -1 with errno. */
int wt_mask_kernel_paths(void);

/* Forks the helper that unshares the mount and PID namespaces and forks PID 1.
 * Returns the helper's pid, or -errno. */
pid_t wt_spawn(const wt_spawn_config *config);

/* Receives one event; *fd_out gets an attached descriptor or -1.
 * Returns 1, 0 at end of stream, -errno on error, -EAGAIN on timeout. */
int wt_recv_event(int sock, int timeout_ms, wt_event *event, int *fd_out);

/* Asks PID 1 to run a probe command inside the root (as the image's user), its standard
 * output going to stdout_fd (-1: PID 1's own). */
int wt_send_probe(int sock, int32_t id, const char *payload, int length, int stdout_fd);

/* Wait-status helpers (macros do not import into Swift). */
int wt_exit_code(int status);

/* Ctrl-C / SIGTERM: a flag the main loop polls. */
void wt_install_interrupt_handler(void);
void wt_restore_interrupt_handler(void);
int wt_interrupted(void);
/* Sets the same flag from ordinary code (whittle's signal thread, when signals are blocked). */
void wt_request_interrupt(void);

/* Rootless tracing: whittle again, as root of a user namespace mapped onto the caller's
 * ids and its subordinate ranges (0 -> uid, 1..count -> start..), with a network
 * namespace of its own whose loopback is up. */
enum {
    WT_USERNS_PIPE = 1, WT_USERNS_FORK, WT_USERNS_UNSHARE, WT_USERNS_UIDMAP, WT_USERNS_GIDMAP,
    WT_USERNS_GROUPS, WT_USERNS_LOOPBACK, WT_USERNS_EXEC,
};

typedef struct {
    const char *executable;      /* whittle itself (/proc/self/exe) */
    char *const *argv;
    char *const *envp;
    const char *newuidmap, *newgidmap;
    uint32_t uid, gid;           /* the caller's, mapped to 0 */
    uint32_t subuid_start, subuid_count;
    uint32_t subgid_start, subgid_count;
} wt_userns_config;

const char *wt_userns_stage_name(int stage);

/* Brings up loopback in the calling process's network namespace. 0 or -1 with errno. */
int wt_loopback_up(void);

/* Starts whittle again in the new namespaces. Returns its pid once it has been mapped and
 * executed, or -1 with *stage (WT_USERNS_*) and *error (errno) set. */
pid_t wt_userns_start(const wt_userns_config *config, int *stage, int *error);

/* Waits for pid; its exit code, 128 + signal, or -1. */
int wt_wait_status(pid_t pid);

/* fsetxattr (sys/xattr.h does not import). 0 or -errno. */
int wt_fsetxattr(int fd, const char *name, const void *value, unsigned long size);

/* makedev without the macro. */
uint64_t wt_makedev(uint32_t major, uint32_t minor);

/* Checks, in a throwaway child with its own mount namespace, whether an overlay with
 * `lower` mounts. 0 when it does, else errno. */
int wt_probe_overlay(const char *lower, const char *scratch);

/* The seccomp notification loop. */
typedef struct wt_supervisor wt_supervisor;

typedef struct {
    const char *syscall;   /* name */
    const char *path1;     /* absolute, as seen inside the root, or NULL */
    const char *path2;     /* second path (rename, link, symlink target dir), or NULL */
    uint32_t pid;
    int writes;            /* an open for writing: O_WRONLY, O_RDWR, O_CREAT or O_TRUNC */
} wt_record;

wt_supervisor *wt_supervisor_create(int listener);
void wt_supervisor_destroy(wt_supervisor *supervisor);
/* Waits up to timeout_ms for one notification, records it and lets the syscall continue.
 * Returns 1 with *record filled, 0 on timeout or a notification with nothing to record,
 * -1 when no traced process is left, -errno on error. */
int wt_supervisor_next(wt_supervisor *supervisor, int timeout_ms, wt_record *record);
/* Notifications answered so far. */
uint64_t wt_supervisor_count(const wt_supervisor *supervisor);

#endif
