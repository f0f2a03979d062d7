#define _GNU_SOURCE
#include "CWhittleTrace.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <seccomp.h>

/* The confinement `docker run` gives a container by default, applied to the sandbox's
 * PID 1 and everything it starts: the same syscalls allowed, the same capabilities, the
 * same /proc and /sys paths hidden or read-only. The names and values are those of
 * Docker's default seccomp profile and its OCI defaults; see docs/sandbox.md. */

/* Syscalls Docker's default profile allows whatever the arguments. Names this
 * libseccomp does not know are added by number (see late_syscalls), or skipped. */
static const char *const allowed_syscalls[] = {
    "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk", "cachestat",
    "capget", "capset", "chdir", "chmod", "chown", "chown32", "chroot", "clock_adjtime",
    "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
    "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
    "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd",
    "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
    "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2",
    "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
    "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
    "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64",
    "futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents",
    "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
    "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
    "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
    "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
    "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "getxattrat", "inotify_add_watch",
    "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy",
    "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
    "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
    "listmount", "listxattr", "listxattrat", "llistxattr", "_llseek", "lremovexattr", "lseek",
    "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create",
    "memfd_secret", "mincore", "mkdir", "mkdirat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
    "modify_ldt", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
    "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
    "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2",
    "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
    "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
    "prlimit64", "process_mrelease", "process_vm_readv", "process_vm_writev", "pselect6",
    "pselect6_time64", "ptrace", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
    "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
    "remap_file_pages", "removexattr", "removexattrat", "rename", "renameat", "renameat2",
    "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
    "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
    "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget",
    "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
    "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
    "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
    "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
    "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid",
    "setuid32", "setxattr", "setxattrat", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
    "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair",
    "splice", "stat", "stat64", "statfs", "statfs64", "statmount", "statx", "symlink", "symlinkat",
    "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname",
    "unlink", "unlinkat", "uretprobe", "utime", "utimensat", "utimensat_time64", "utimes", "vfork",
    "vmsplice", "wait4", "waitid", "waitpid", "write", "writev",
};

/* Syscalls added to Linux after this libseccomp may have been released. Since Linux 5.1
 * new syscalls get one number on every architecture (alpha aside), so these hold. */
static const struct { const char *name; int nr; } late_syscalls[] = {
    {"cachestat", 451}, {"fchmodat2", 452}, {"map_shadow_stack", 453}, {"futex_wake", 454},
    {"futex_wait", 455}, {"futex_requeue", 456}, {"statmount", 457}, {"listmount", 458},
    {"mseal", 462}, {"setxattrat", 463}, {"getxattrat", 464}, {"listxattrat", 465},
    {"removexattrat", 466},
};

/* Socket families Docker allows: all below AF_DECnet (12) and these. AF_VSOCK (40) and
 * AF_ALG (38) among those left out. */
static const int allowed_families[] = {13, 14, 15, 16, 17, 18, 21, 22, 24, 26, 27, 28, 29, 30, 31, 32, 33,
                                       35, 36, 39, 41, 42, 43, 44, 45};

/* personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26 variants, query. */
static const uint64_t allowed_personalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

/* Namespace flags that clone(2) may not carry without CAP_SYS_ADMIN. */
#define WT_CLONE_NAMESPACE_FLAGS 0x7E020000ULL

static int allow_by_name(scmp_filter_ctx ctx, const char *name) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) {
        for (size_t i = 0; i < sizeof late_syscalls / sizeof late_syscalls[0]; i++)
            if (strcmp(late_syscalls[i].name, name) == 0) nr = late_syscalls[i].nr;
        if (nr == __NR_SCMP_ERROR) return 0; /* unknown here: stays denied */
    }
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    /* A name of another architecture (chown32 on x86_64) resolves to a pseudo number
     * that some filter arches cannot take: nothing to allow there. */
    return (rc == -EDOM || rc == -EINVAL || rc == -EOPNOTSUPP || rc == -EFAULT) ? 0 : rc;
}

static int add_conditional_rules(scmp_filter_ctx ctx) {
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_LT, 12));
    for (size_t i = 0; rc == 0 && i < sizeof allowed_families / sizeof allowed_families[0]; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)allowed_families[i]));
    for (size_t i = 0; rc == 0 && i < sizeof allowed_personalities / sizeof allowed_personalities[0]; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
                              SCMP_A0(SCMP_CMP_EQ, allowed_personalities[i]));
    /* Threads and processes, but no new namespaces; clone3 hides its flags in memory, so
     * it answers ENOSYS and the C library falls back to clone, as under Docker. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, WT_CLONE_NAMESPACE_FLAGS, 0));
    if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* Docker allows mknod and lets its device cgroup refuse opening the node; there is no
     * such cgroup here, so device nodes are refused when made. FIFOs, sockets and plain
     * files (0 is a regular file) are allowed. */
    static const scmp_datum_t kinds[] = {0, S_IFREG, S_IFIFO, S_IFSOCK};
    for (size_t i = 0; rc == 0 && i < sizeof kinds / sizeof kinds[0]; i++) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mknod), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, S_IFMT, kinds[i]));
        if (rc == 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mknodat), 1,
                                  SCMP_A2(SCMP_CMP_MASKED_EQ, S_IFMT, kinds[i]));
    }
    return rc;
}

int wt_confinement_create(void **out) {
    *out = NULL;
    /* Everything not allowed fails with EPERM, as in Docker's profile. */
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (ctx == NULL) return -ENOMEM;
    /* Root has no no_new_privs under Docker either: setuid programs keep working. */
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    /* Every syscall of the app runs this filter: a binary search over the allowed numbers
     * costs far less than testing them one by one. */
    if (rc == 0 && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) != 0) rc = 0;
    /* 32-bit programs in a 64-bit image get the same rules, as Docker's arch map says. */
    uint32_t native = seccomp_arch_native();
    if (rc == 0 && native == SCMP_ARCH_X86_64) rc = seccomp_arch_add(ctx, SCMP_ARCH_X86);
    if (rc == 0 && native == SCMP_ARCH_AARCH64) rc = seccomp_arch_add(ctx, SCMP_ARCH_ARM);
    if (rc == -EEXIST) rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof allowed_syscalls / sizeof allowed_syscalls[0]; i++)
        rc = allow_by_name(ctx, allowed_syscalls[i]);
    if (rc == 0) rc = add_conditional_rules(ctx);
    if (rc != 0) {
        seccomp_release(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

/* Docker's default capabilities: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID,
 * SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW, SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP. */
#define WT_DOCKER_CAPS 0xa80425fbULL

uint64_t wt_default_capabilities(void) { return WT_DOCKER_CAPS; }

int wt_drop_capabilities(void) {
    /* The bounding set first: what no later execve can give back. */
    for (int cap = 0; cap < 64; cap++) {
        if (WT_DOCKER_CAPS & (1ULL << cap)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return -1;
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    for (int i = 0; i < 2; i++) {
        uint32_t bits = (uint32_t)(WT_DOCKER_CAPS >> (32 * i));
        data[i].effective = bits;
        data[i].permitted = bits;
    }
    return (int)syscall(SYS_capset, &header, data);
}

/* Hidden: a directory gets an empty read-only tmpfs, anything else /dev/null. */
static const char *const masked_paths[] = {
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
    "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware",
};

/* Visible but read-only. */
static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

int wt_mask_kernel_paths(void) {
    struct stat st;
    for (size_t i = 0; i < sizeof masked_paths / sizeof masked_paths[0]; i++) {
        const char *path = masked_paths[i];
        if (stat(path, &st) != 0) continue; /* not on this kernel */
        int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0,mode=0555")
                                     : mount("/dev/null", path, NULL, MS_BIND, NULL);
        if (rc != 0) return -1;
    }
    for (size_t i = 0; i < sizeof readonly_paths / sizeof readonly_paths[0]; i++) {
        const char *path = readonly_paths[i];
        if (stat(path, &st) != 0) continue;
        if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) != 0) return -1;
        if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
            return -1;
    }
    return 0;
}
