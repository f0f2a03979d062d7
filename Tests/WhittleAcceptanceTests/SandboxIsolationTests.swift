import Foundation
import Testing
#if canImport(Glibc)
    import Glibc
    @testable import WhittleTestSupport
#endif

/// An image's code is untrusted, and `whittle trace` runs it on the user's machine, so the
/// sandbox must confine it at least as `docker run` does. A probe image reports what it can
/// reach (capabilities, seccomp, namespaces, the host's disk, sysctls, /sys, the kernel log,
/// the network's settings, the paths Docker masks) under a real engine's default
/// confinement and under `whittle trace`, as root and as an ordinary user; every answer of
/// whittle's must be no weaker than Docker's.
@Suite(
    "Sandbox isolation against docker run", .serialized,
    .enabled(if: PrivateDockerEngine.available || TestEnvironment.isCI, "needs root and dockerd (runs under CI=true)"))
struct SandboxIsolationTests {
    static let tag = "whittle-test/isolation-probe:1"

    @Test("whittle trace confines an image's command at least as docker run does, as root and rootless")
    func noWeakerThanDockerRun() throws {
        let work = try TestDirectory()
        let disk = try HostDisk.root()
        let archive = try Self.probeImage().writeArchive(in: work.url)
        let docker = try Self.runInDocker(archive, disk: disk)
        let root = ProbeOutcome { try Self.traceAsRoot(archive, disk: disk, in: work) }
        let rootless = Self.traceRootless(archive, disk: disk, in: work)
        let host = try HostNamespaces()

        ProbeTable.show(docker: docker, root: root, rootless: rootless, host: host)
        Self.expectDockerConfines(docker, host: host)
        Self.expectNoWeaker(root, than: docker, host: host, side: "whittle as root")
        Self.expectNoWeaker(rootless, than: docker, host: host, side: "whittle rootless")
    }
}

// MARK: - The probe

extension SandboxIsolationTests {
    /// Every line is `key=value`. Whatever could change something is a no-op when it
    /// succeeds: the sysctl gets back the value it had, /sys is remounted read-only again
    /// (as a bind remount, which changes this mount only: a plain remount would change the
    /// sysfs superblock the host shares), the disk is only looked at and unmounted, and
    /// nothing is written to the sysrq trigger.
    static let probeScript = #"""
        #!/bin/sh
        bb=/bin/busybox
        status() { $bb awk -v key="$1:" '$1 == key { print $2 }' /proc/self/status; }
        quietly() { ( "$@" ) >/dev/null 2>&1; }
        answer() { if quietly "$@"; then echo ok; else echo refused; fi; }

        echo "capeff=$(status CapEff)"
        echo "capbnd=$(status CapBnd)"
        echo "capprm=$(status CapPrm)"
        echo "seccomp=$(status Seccomp)"
        echo "nonewprivs=$(status NoNewPrivs)"
        for ns in uts cgroup net mnt pid ipc; do echo "${ns}_ns=$($bb readlink /proc/self/ns/$ns)"; done
        echo "hostname=$($bb hostname)"

        # The host's root disk: read-only first; the kernel refuses that for a filesystem it has
        # mounted read-write, so then as the host mounts it (the same superblock, nothing written).
        disk=/tmp/whittle-disk
        echo "mknod=$(answer $bb mknod $disk b "$DISK_MAJOR" "$DISK_MINOR")"
        $bb mkdir -p /tmp/mnt
        type=${DISK_FSTYPE:+-t $DISK_FSTYPE}
        if quietly $bb mount -o ro $type $disk /tmp/mnt || quietly $bb mount $type $disk /tmp/mnt; then
            echo mount_disk=ok
            if [ -e /tmp/mnt/etc/hostname ]; then echo mounted_etc_hostname=present; else echo mounted_etc_hostname=absent; fi
            $bb umount /tmp/mnt
        else
            echo mount_disk=refused
        fi
        $bb rm -f $disk

        write_back() { pattern=$($bb cat "$1") && printf '%s\n' "$pattern" > "$1"; }
        echo "proc_sys_write=$(answer write_back /proc/sys/kernel/core_pattern)"

        if quietly $bb mount -o remount,bind,rw /sys; then
            echo remount_sys=ok
            $bb mount -o remount,bind,ro /sys
        else
            echo remount_sys=refused
        fi

        if [ "$($bb dmesg 2>/dev/null | $bb head -n 1 | $bb wc -l)" -gt 0 ]; then echo dmesg=ok; else echo dmesg=refused; fi

        mtu=$($bb cat /sys/class/net/lo/mtu 2>/dev/null)
        echo "net_admin=$(answer $bb ip link set dev lo mtu "${mtu:-missing}")"

        # Only Docker's syscall rules refuse this to a process without CAP_SYS_ADMIN (any
        # seccomp filter shows as Seccomp: 2, so this tells the profile itself apart).
        echo "new_namespace=$(answer $bb unshare -U -m true)"

        if [ ! -e /proc/sysrq-trigger ]; then echo sysrq_write=absent
        else echo "sysrq_write=$(answer eval "printf '' > /proc/sysrq-trigger")"; fi

        # Absent, empty, a character device (Docker binds /dev/null) or an empty directory.
        visibility() {
            if [ ! -e "$1" ] || [ -c "$1" ]; then echo hidden
            elif [ -d "$1" ]; then if [ -z "$($bb ls -A "$1" 2>/dev/null)" ]; then echo hidden; else echo visible; fi
            elif [ "$($bb head -c 1 "$1" 2>/dev/null | $bb wc -c)" -eq 0 ]; then echo hidden
            else echo visible; fi
        }
        for path in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/acpi /proc/scsi /sys/firmware; do
            echo "masked_${path##*/}=$(visibility $path)"
        done

        options() { $bb awk -v point="$1" '$5 == point { found = $6 } END { print found }' /proc/self/mountinfo; }
        sys_options=$(options /proc/sys)
        case ",${sys_options:-$(options /proc)}," in *,ro,*) echo proc_sys_ro=ro ;; *) echo proc_sys_ro=rw ;; esac
        exit 0
        """#

    /// FROM scratch: the host's static busybox and the probe.
    static func probeImage() throws -> TestImageBuilder {
        var layer = TestLayer()
        for directory in ["bin", "etc"] { layer.directory(directory) }
        layer.directory("tmp", mode: 0o1777)
        layer.file("bin/busybox", bytes: Array(try Data(contentsOf: URL(fileURLWithPath: "/bin/busybox"))))
        layer.symlink("bin/sh", to: "busybox")
        layer.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        layer.file("etc/group", "root:x:0:\n")
        layer.file("probe.sh", probeScript, mode: 0o755)
        var builder = TestImageBuilder(layers: [layer])
        builder.tag = tag
        builder.extraConfig["config"] = .object([
            "Cmd": .array([.string("/probe.sh")]), "Env": .array([.string("PATH=/bin")]),
        ])
        return builder
    }
}

// MARK: - Three ways to run it

extension SandboxIsolationTests {
    /// The reference: a real engine's default confinement, no extra flags.
    static func runInDocker(_ archive: String, disk: HostDisk) throws -> ProbeReport {
        let engine = try PrivateDockerEngine()
        defer { engine.stop() }
        try engine.docker("load", "-q", "-i", archive)
        let output = try run(
            "/usr/bin/env",
            ["docker", "-H", engine.host, "run", "--rm", "--network", "host"]
                + disk.environmentArguments + [tag, "/probe.sh"])
        return ProbeReport(parsing: output)
    }

    static func traceArguments(_ image: String, in directory: String, disk: HostDisk) -> [String] {
        ["trace", image, "-o", directory + "/probe.json", "--log", directory + "/probe.log", "--timeout", "60"]
            + disk.environmentArguments + ["--", "/probe.sh"]
    }

    static func traceAsRoot(_ archive: String, disk: HostDisk, in work: TestDirectory) throws -> ProbeReport {
        let directory = work.path("root")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try run(try whittleExecutable(), traceArguments(archive, in: directory, disk: disk))
        return ProbeReport(parsing: try String(contentsOfFile: directory + "/probe.log", encoding: .utf8))
    }

    /// As `whittle-rootless`, in a directory it owns; skipped, with the reason, only when
    /// that user cannot be made here and this is not CI.
    static func traceRootless(_ archive: String, disk: HostDisk, in work: TestDirectory) -> ProbeOutcome {
        let user: RootlessUser
        do {
            guard RootlessUser.available || TestEnvironment.isCI else { throw RootlessSkip() }
            user = try RootlessUser(in: work)
        } catch {
            let reason = "cannot make the user \(RootlessUser.name) (needs root and /usr/bin/newuidmap): \(error)"
            return TestEnvironment.isCI ? .failed(reason) : .skipped(reason)
        }
        return ProbeOutcome {
            let image = try user.stage(archive)
            try user.whittle(traceArguments(image, in: user.home, disk: disk))
            return ProbeReport(parsing: try String(contentsOfFile: user.home + "/probe.log", encoding: .utf8))
        }
    }

    private struct RootlessSkip: Error, CustomStringConvertible {
        var description: String { "not root, or newuidmap is missing" }
    }
}

// MARK: - Expectations

extension SandboxIsolationTests {
    static let harmful = [
        "mount_disk", "proc_sys_write", "remount_sys", "dmesg", "net_admin", "new_namespace",
        "sysrq_write",
    ]
    static let masked = ["kcore", "keys", "timer_list", "sched_debug", "acpi", "scsi", "firmware"].map {
        "masked_" + $0
    }

    /// A harmful action is confined when it was refused (or has nothing to act on).
    static func confined(_ value: String) -> Bool { value == "refused" || value == "absent" }

    /// The reference is what it should be, so "as confined as Docker" means something.
    static func expectDockerConfines(_ docker: ProbeReport, host: HostNamespaces) {
        for key in harmful {
            #expect(confined(docker[key]), "docker itself: \(key)=\(docker[key]), expected refused")
        }
        for key in masked {
            #expect(docker[key] == "hidden", "docker itself: \(key)=\(docker[key]), expected hidden")
        }
        #expect(docker["seccomp"] == "2", "docker itself: seccomp=\(docker["seccomp"])")
        #expect(docker["proc_sys_ro"] == "ro", "docker itself: proc_sys_ro=\(docker["proc_sys_ro"])")
        #expect(docker["uts_ns"] != host["uts"], "docker itself shares the host's uts namespace")
        let effective = UInt64(docker["capeff"], radix: 16) ?? .max
        #expect(effective & (1 << Capability.sysAdmin) == 0, "docker itself: capeff=\(docker["capeff"]) has sys_admin")
    }

    static func expectNoWeaker(_ outcome: ProbeOutcome, than docker: ProbeReport, host: HostNamespaces, side: String) {
        switch outcome {
        case let .report(ours):
            expectCapabilities(ours, within: docker, side: side)
            expectNamespaces(ours, apartFrom: host, side: side)
            expectRefusals(ours, docker: docker, side: side)
            expectMasks(ours, docker: docker, side: side)
        case let .failed(reason):
            Issue.record("\(side): the probe did not run: \(reason)")
        case let .skipped(reason):
            print("sandbox isolation: \(side) skipped: \(reason)")
        }
    }

    /// Every capability bit whittle leaves the app, Docker leaves it too.
    static func expectCapabilities(_ ours: ProbeReport, within docker: ProbeReport, side: String) {
        for key in ["capeff", "capbnd", "capprm"] {
            guard let mine = UInt64(ours[key], radix: 16), let reference = UInt64(docker[key], radix: 16) else {
                Issue.record("\(side): \(key)=\(ours[key]), docker \(key)=\(docker[key]): not hexadecimal")
                continue
            }
            let extra = mine & ~reference
            #expect(
                extra == 0,
                """
                \(side): \(key)=\(ours[key]) is weaker than docker's \(docker[key]): \
                it adds \(Capability.names(extra).joined(separator: ","))
                """)
        }
    }

    static func expectNamespaces(_ ours: ProbeReport, apartFrom host: HostNamespaces, side: String) {
        #expect(ours["seccomp"] == "2", "\(side): seccomp=\(ours["seccomp"]), docker filters (2)")
        for namespace in ["uts", "cgroup"] {
            let value = ours[namespace + "_ns"]
            #expect(
                value.hasPrefix(namespace + ":[") && value != host[namespace],
                "\(side): \(namespace)_ns=\(value) is the host's (\(host[namespace]))")
        }
    }

    static func expectRefusals(_ ours: ProbeReport, docker: ProbeReport, side: String) {
        for key in harmful {
            #expect(confined(ours[key]), "\(side): \(key)=\(ours[key]), docker \(key)=\(docker[key])")
        }
        #expect(
            ours["proc_sys_ro"] == "ro", "\(side): proc_sys_ro=\(ours["proc_sys_ro"]), docker \(docker["proc_sys_ro"])")
    }

    static func expectMasks(_ ours: ProbeReport, docker: ProbeReport, side: String) {
        for key in masked where docker[key] == "hidden" {
            #expect(ours[key] == "hidden", "\(side): \(key)=\(ours[key]), docker \(key)=hidden")
        }
    }
}

// MARK: - What the probe reports, and about what

extension SandboxIsolationTests {

    /// One run's `key=value` lines.
    struct ProbeReport {
        var values: [String: String] = [:]

        init(parsing text: String) {
            for line in text.split(separator: "\n") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                let key = String(line[..<equals])
                guard !key.isEmpty, key.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" }) else { continue }
                values[key] = String(line[line.index(after: equals)...])
            }
        }

        subscript(key: String) -> String { values[key] ?? "(missing)" }
    }

    /// A whittle run's report, or why there is none.
    enum ProbeOutcome {
        case report(ProbeReport)
        case failed(String)
        case skipped(String)

        init(_ body: () throws -> ProbeReport) {
            do { self = .report(try body()) } catch { self = .failed("\(error)") }
        }

        subscript(key: String) -> String {
            switch self {
            case let .report(report): report[key]
            case .failed: "(failed)"
            case .skipped: "(skipped)"
            }
        }
    }

    /// The host's root filesystem: the device the probe tries to mount, and its type.
    struct HostDisk {
        let major: UInt64
        let minor: UInt64
        let type: String

        static func root() throws -> HostDisk {
            var info = stat()
            guard stat("/", &info) == 0 else { throw CommandFailure(command: "stat /", status: errno, output: "") }
            let device = UInt64(info.st_dev)
            return HostDisk(
                major: (device >> 8) & 0xfff, minor: (device & 0xff) | ((device >> 12) & 0xfff00),
                type: try rootType())
        }

        /// The type of the last filesystem mounted on `/` (field 9 of mountinfo: after the ` - `).
        private static func rootType() throws -> String {
            let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
            let root = mounts.split(separator: "\n").map { $0.split(separator: " ") }.last {
                $0.count > 4 && $0[4] == "/"
            }
            guard let fields = root, let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count else { return "" }
            return String(fields[dash + 1])
        }

        var environmentArguments: [String] {
            ["-e", "DISK_MAJOR=\(major)", "-e", "DISK_MINOR=\(minor)", "-e", "DISK_FSTYPE=\(type)"]
        }
    }

    /// The test process's own namespaces, which the sandbox must not share.
    struct HostNamespaces {
        let links: [String: String]

        init() throws {
            var links: [String: String] = [:]
            for name in ["uts", "cgroup", "net", "mnt", "pid", "ipc"] {
                links[name] = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/" + name)
            }
            self.links = links
        }

        subscript(name: String) -> String { links[name] ?? "(unknown)" }
    }

    /// Linux capability numbers, for naming the bits a sandbox has too many of.
    enum Capability {
        static let sysAdmin = 21
        static let all = [
            "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
            "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
            "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
            "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
            "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
            "checkpoint_restore",
        ]

        static func names(_ bits: UInt64) -> [String] {
            (0..<64).filter { bits & (1 << UInt64($0)) != 0 }.map { $0 < all.count ? all[$0] : "cap_\($0)" }
        }
    }

    /// The side-by-side table the test log keeps.
    enum ProbeTable {
        static let keys =
            [
                "capeff", "capbnd", "capprm", "seccomp", "nonewprivs", "uts_ns", "cgroup_ns", "net_ns", "mnt_ns",
                "pid_ns",
                "ipc_ns", "hostname", "mknod", "mount_disk", "mounted_etc_hostname", "proc_sys_write", "remount_sys",
                "dmesg",
                "net_admin", "new_namespace", "sysrq_write",
            ] + masked + ["proc_sys_ro"]

        static func show(docker: ProbeReport, root: ProbeOutcome, rootless: ProbeOutcome, host: HostNamespaces) {
            var rows = [["property", "docker", "whittle root", "whittle rootless"]]
            rows += keys.map { [$0, docker[$0], root[$0], rootless[$0]] }
            let widths = (0..<4).map { column in rows.map { $0[column].count }.max() ?? 0 }
            var lines = ["sandbox isolation (host: uts \(host["uts"]), cgroup \(host["cgroup"]), net \(host["net"]))"]
            for row in rows {
                lines.append(
                    zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                        .joined(separator: "  "))
            }
            for (side, outcome) in [("whittle root", root), ("whittle rootless", rootless)] {
                if case let .failed(reason) = outcome { lines.append("\(side) failed: \(reason)") }
                if case let .skipped(reason) = outcome { lines.append("\(side) skipped: \(reason)") }
            }
            Swift.print(lines.joined(separator: "\n"))
        }
    }
}
