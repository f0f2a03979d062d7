#define _GNU_SOURCE
#include "CWhittleTrace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <seccomp.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

/* Path syscalls and where their arguments are: path argument index, dirfd argument
 * index (-1: relative to the cwd), and a second path/dirfd pair (-1: none). */
typedef struct {
    const char *name;
    int path1, dirfd1, path2, dirfd2;
} wt_syscall_spec;

static const wt_syscall_spec specs[] = {
    /* the ones design §5 lists */
    {"open", 0, -1, -1, -1}, {"openat", 1, 0, -1, -1}, {"openat2", 1, 0, -1, -1},
    {"execve", 0, -1, -1, -1}, {"execveat", 1, 0, -1, -1},
    {"stat", 0, -1, -1, -1}, {"lstat", 0, -1, -1, -1}, {"newfstatat", 1, 0, -1, -1},
    {"statx", 1, 0, -1, -1}, {"access", 0, -1, -1, -1}, {"faccessat", 1, 0, -1, -1},
    {"faccessat2", 1, 0, -1, -1}, {"readlink", 0, -1, -1, -1}, {"readlinkat", 1, 0, -1, -1},
    {"chdir", 0, -1, -1, -1},
    {"getxattr", 0, -1, -1, -1}, {"lgetxattr", 0, -1, -1, -1}, {"listxattr", 0, -1, -1, -1},
    {"llistxattr", 0, -1, -1, -1}, {"statfs", 0, -1, -1, -1},
    /* the rest of strace's %file class, so that nothing a run names is missed */
    {"creat", 0, -1, -1, -1}, {"truncate", 0, -1, -1, -1}, {"mkdir", 0, -1, -1, -1},
    {"mkdirat", 1, 0, -1, -1}, {"rmdir", 0, -1, -1, -1}, {"unlink", 0, -1, -1, -1},
    {"unlinkat", 1, 0, -1, -1}, {"rename", 0, -1, 1, -1}, {"renameat", 1, 0, 3, 2},
    {"renameat2", 1, 0, 3, 2}, {"link", 0, -1, 1, -1}, {"linkat", 1, 0, 3, 2},
    {"symlink", 1, -1, -1, -1}, {"symlinkat", 2, 1, -1, -1}, {"chmod", 0, -1, -1, -1},
    {"fchmodat", 1, 0, -1, -1}, {"fchmodat2", 1, 0, -1, -1}, {"chown", 0, -1, -1, -1},
    {"lchown", 0, -1, -1, -1}, {"fchownat", 1, 0, -1, -1}, {"utime", 0, -1, -1, -1},
    {"utimes", 0, -1, -1, -1}, {"futimesat", 1, 0, -1, -1}, {"utimensat", 1, 0, -1, -1},
    {"mknod", 0, -1, -1, -1}, {"mknodat", 1, 0, -1, -1}, {"chroot", 0, -1, -1, -1},
    {"setxattr", 0, -1, -1, -1}, {"lsetxattr", 0, -1, -1, -1}, {"removexattr", 0, -1, -1, -1},
    {"lremovexattr", 0, -1, -1, -1}, {"uselib", 0, -1, -1, -1}, {"swapon", 0, -1, -1, -1},
    {"inotify_add_watch", 1, -1, -1, -1}, {"name_to_handle_at", 1, 0, -1, -1},
    {"fanotify_mark", 4, 3, -1, -1}, {"mount", 1, -1, -1, -1}, {"umount2", 0, -1, -1, -1},
    {"pivot_root", 0, -1, 1, -1}, {"acct", 0, -1, -1, -1}, {"quotactl", 1, -1, -1, -1},
};
#define NSPECS (sizeof specs / sizeof specs[0])

int wt_seccomp_api(void) { return (int)seccomp_api_get(); }

int wt_filter_create(void **out) {
    *out = NULL;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL) return -ENOMEM;
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
    /* As root, no no_new_privs: setuid binaries in the image must still work. */
    if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    for (size_t i = 0; rc == 0 && i < NSPECS; i++) {
        int nr = seccomp_syscall_resolve_name(specs[i].name);
        if (nr == __NR_SCMP_ERROR || nr < 0) continue; /* not on this architecture */
        rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0);
    }
    /* io_uring does file access the filter cannot see. */
    if (rc == 0) {
        int nr = seccomp_syscall_resolve_name("io_uring_setup");
        if (nr != __NR_SCMP_ERROR && nr >= 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
    }
    if (rc != 0) {
        seccomp_release(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

void wt_filter_release(void *filter) {
    if (filter) seccomp_release((scmp_filter_ctx)filter);
}

#define WT_PATH_MAX 4096

struct wt_supervisor {
    int listener;
    struct seccomp_notif *req;
    struct seccomp_notif_resp *resp;
    size_t req_size;
    int spec_for_nr[1024]; /* index into specs + 1, 0: none */
    long page;
    uint64_t count;
    int nr_open, nr_openat, nr_openat2, nr_creat;
    char raw[2][WT_PATH_MAX];
    char base[WT_PATH_MAX];
    char out[2][2 * WT_PATH_MAX + 2];
};

wt_supervisor *wt_supervisor_create(int listener) {
    wt_supervisor *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    if (seccomp_notify_alloc(&s->req, &s->resp) != 0) {
        free(s);
        return NULL;
    }
    /* libseccomp allocates what the kernel asks for; zero that many bytes each time. */
    struct seccomp_notif_sizes sizes;
    memset(&sizes, 0, sizeof sizes);
    s->req_size = sizeof *s->req;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0 && sizes.seccomp_notif > s->req_size)
        s->req_size = sizes.seccomp_notif;
    s->listener = listener;
    s->page = sysconf(_SC_PAGESIZE);
    if (s->page <= 0) s->page = 4096;
    for (size_t i = 0; i < NSPECS; i++) {
        int nr = seccomp_syscall_resolve_name(specs[i].name);
        if (nr >= 0 && nr < 1024) s->spec_for_nr[nr] = (int)i + 1;
    }
    s->nr_open = seccomp_syscall_resolve_name("open");
    s->nr_openat = seccomp_syscall_resolve_name("openat");
    s->nr_openat2 = seccomp_syscall_resolve_name("openat2");
    s->nr_creat = seccomp_syscall_resolve_name("creat");
    return s;
}

void wt_supervisor_destroy(wt_supervisor *s) {
    if (s == NULL) return;
    seccomp_notify_free(s->req, s->resp);
    close(s->listener);
    free(s);
}

uint64_t wt_supervisor_count(const wt_supervisor *s) { return s->count; }

/* Reads a NUL-terminated string at addr from /proc/TID/mem, never crossing a page in one
 * read (the next page may be unmapped). Returns 0, or -1 when unreadable. */
static int read_string(wt_supervisor *s, int mem, uint64_t addr, char *out) {
    size_t done = 0;
    while (done < WT_PATH_MAX - 1) {
        uint64_t at = addr + done;
        size_t chunk = (size_t)(s->page - (long)(at % (uint64_t)s->page));
        if (chunk > WT_PATH_MAX - 1 - done) chunk = WT_PATH_MAX - 1 - done;
        ssize_t got = pread(mem, out + done, chunk, (off_t)at);
        if (got <= 0) return -1;
        void *nul = memchr(out + done, 0, (size_t)got);
        if (nul) return 0;
        done += (size_t)got;
    }
    out[WT_PATH_MAX - 1] = 0;
    return 0;
}

/* The directory a relative path starts from: the cwd or a dirfd, as the traced task sees
 * it (the kernel shows paths relative to the task's own root). */
static int read_base(wt_supervisor *s, uint32_t pid, int64_t dirfd, char *out) {
    char link[64];
    if (dirfd == AT_FDCWD || dirfd < 0) snprintf(link, sizeof link, "/proc/%u/cwd", pid);
    else snprintf(link, sizeof link, "/proc/%u/fd/%d", pid, (int)dirfd);
    ssize_t n = readlink(link, out, WT_PATH_MAX - 1);
    (void)s;
    if (n <= 0) return -1;
    out[n] = 0;
    return 0;
}

static void absolute(wt_supervisor *s, uint32_t pid, const char *raw, int has_dirfd, int64_t dirfd, char *out) {
    size_t size = 2 * WT_PATH_MAX + 2;
    if (raw[0] == '/') {
        snprintf(out, size, "%s", raw);
        return;
    }
    if (read_base(s, pid, has_dirfd ? dirfd : AT_FDCWD, s->base) != 0 || s->base[0] != '/') {
        /* The directory is gone or not a path (a pipe, an anonymous inode): keep it relative. */
        snprintf(out, size, "%s", raw);
        return;
    }
    if (strcmp(s->base, "/") == 0) snprintf(out, size, "/%s", raw);
    else snprintf(out, size, "%s/%s", s->base, raw);
}

/* Whether an open may create, change or truncate its file: the app writes state there. */
static int opens_for_writing(wt_supervisor *s, uint32_t pid, int nr, const uint64_t *args) {
    const int write_flags = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC;
    if (nr == s->nr_creat) return 1;
    if (nr == s->nr_open) return (args[1] & write_flags) != 0;
    if (nr == s->nr_openat) return (args[2] & write_flags) != 0;
    if (nr == s->nr_openat2 && args[2] != 0) {
        /* struct open_how begins with the 64-bit flags. */
        char mempath[64];
        snprintf(mempath, sizeof mempath, "/proc/%u/mem", pid);
        int mem = open(mempath, O_RDONLY | O_CLOEXEC);
        if (mem < 0) return 0;
        uint64_t flags = 0;
        ssize_t got = pread(mem, &flags, sizeof flags, (off_t)args[2]);
        close(mem);
        return got == (ssize_t)sizeof flags && (flags & (uint64_t)write_flags) != 0;
    }
    return 0;
}

int wt_supervisor_next(wt_supervisor *s, int timeout_ms, wt_record *record) {
    struct pollfd pfd = {s->listener, POLLIN, 0};
    int ready = poll(&pfd, 1, timeout_ms);
    if (ready < 0) return errno == EINTR ? 0 : -errno;
    if (ready == 0) return 0;
    if (!(pfd.revents & POLLIN)) {
        if (pfd.revents & (POLLHUP | POLLERR)) return -1;
        return 0;
    }
    memset(s->req, 0, s->req_size);
    int rc = seccomp_notify_receive(s->listener, s->req);
    if (rc != 0) {
        /* The task died between the wakeup and the receive, or a signal interrupted us. */
        if (rc == -ENOENT || rc == -EINTR || rc == -ECANCELED) return 0;
        return rc;
    }
    s->count++;
    struct seccomp_notif *req = s->req;
    uint32_t pid = req->pid;
    int nr = req->data.nr;
    const wt_syscall_spec *spec =
        (nr >= 0 && nr < 1024 && s->spec_for_nr[nr]) ? &specs[s->spec_for_nr[nr] - 1] : NULL;
    record->syscall = spec ? spec->name : "unknown";
    record->path1 = NULL;
    record->path2 = NULL;
    record->pid = pid;
    record->writes = 0;

    int have[2] = {0, 0};
    if (spec) {
        char mempath[64];
        snprintf(mempath, sizeof mempath, "/proc/%u/mem", pid);
        int mem = open(mempath, O_RDONLY | O_CLOEXEC);
        if (mem >= 0) {
            int idx[2] = {spec->path1, spec->path2};
            int dfd[2] = {spec->dirfd1, spec->dirfd2};
            for (int i = 0; i < 2; i++) {
                if (idx[i] < 0) continue;
                uint64_t addr = req->data.args[idx[i]];
                if (addr == 0) continue;
                if (read_string(s, mem, addr, s->raw[i]) != 0) continue;
                if (s->raw[i][0] == 0) continue; /* AT_EMPTY_PATH: the dirfd itself */
                int64_t dirfd = dfd[i] >= 0 ? (int64_t)(int32_t)req->data.args[dfd[i]] : AT_FDCWD;
                absolute(s, pid, s->raw[i], dfd[i] >= 0, dirfd, s->out[i]);
                have[i] = 1;
            }
            close(mem);
        }
    }
    record->writes = have[0] ? opens_for_writing(s, pid, nr, req->data.args) : 0;
    /* What was read belongs to the task only if it is still blocked in this call. */
    int valid = seccomp_notify_id_valid(s->listener, req->id) == 0;

    struct seccomp_notif_resp *resp = s->resp;
    memset(resp, 0, sizeof *resp);
    resp->id = req->id;
    resp->error = 0;
    resp->val = 0;
    resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    rc = seccomp_notify_respond(s->listener, resp);
    (void)rc; /* ENOENT: the task was killed meanwhile */
    if (!valid) return 0;
    if (have[0]) record->path1 = s->out[0];
    if (have[1]) record->path2 = s->out[1];
    return (have[0] || have[1]) ? 1 : 0;
}
