import Foundation
import Testing
import WhittleCommands
import WhittleFiles
import WhittleFlatten
import WhittleImage
import WhittleOutput
import WhittlePackages
import WhittleReport

/// A Debian-like image with Python distributions: usrmerge (`lib -> usr/lib`), three dpkg
/// packages and a metapackage, four Python distributions of every metadata style.
enum PackageImage {
    static let site = "usr/local/lib/python3.11/site-packages"

    static func builder() -> TestImageBuilder {
        var layer = TestLayer()
        for directory in [
            "usr", "usr/lib", "usr/lib/x86_64-linux-gnu", "usr/bin", "usr/share", "usr/share/doc",
            "usr/share/doc/tool", "usr/share/doc/gone", "etc", "var", "var/lib", "var/lib/dpkg",
            "var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/apt", "usr/local", "usr/local/bin",
            "usr/local/lib", "usr/local/lib/python3.11", site,
        ] {
            layer.directory(directory)
        }
        layer.symlink("lib", to: "usr/lib")
        layer.file("usr/lib/x86_64-linux-gnu/libfoo.so.1", "libfoo")
        layer.file("usr/bin/tool", "tool binary")
        layer.file("usr/share/doc/tool/copyright", "tool copyright")
        layer.file("etc/tool.conf", "setting=1\n")
        layer.file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        layer.file("usr/bin/gone", "gone binary")
        layer.file("usr/share/doc/gone/copyright", "gone copyright")
        layer.file("var/lib/dpkg/status", status)
        layer.file("var/lib/dpkg/info/format", "1\n")
        layer.file(
            "var/lib/apt/extended_states",
            """
            Package: gone
            Architecture: amd64
            Auto-Installed: 1

            Package: tool
            Architecture: amd64
            Auto-Installed: 0

            """)
        layer.file(
            "var/lib/dpkg/info/libfoo1:amd64.list",
            "/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libfoo.so.1\n")
        layer.file(
            "var/lib/dpkg/info/libfoo1:amd64.md5sums",
            "00000000000000000000000000000001  lib/x86_64-linux-gnu/libfoo.so.1\n")
        layer.file(
            "var/lib/dpkg/info/tool.list",
            """
            /.
            /etc
            /etc/tool.conf
            /usr
            /usr/bin
            /usr/bin/tool
            /usr/share/doc/tool
            /usr/share/doc/tool/copyright

            """)
        layer.file(
            "var/lib/dpkg/info/tool.md5sums",
            """
            00000000000000000000000000000002  usr/bin/tool
            00000000000000000000000000000003  usr/share/doc/tool/copyright

            """)
        // dpkg 1.21 may flag a conffile: the path is the line's last field.
        layer.file("var/lib/dpkg/info/tool.conffiles", "remove-on-upgrade /etc/tool.conf\n")
        layer.file("var/lib/dpkg/info/tool.postinst", "#!/bin/sh\n")
        layer.file(
            "var/lib/dpkg/info/gone.list",
            "/.\n/usr\n/usr/bin\n/usr/bin/gone\n/usr/share/doc/gone\n/usr/share/doc/gone/copyright\n")
        layer.file("var/lib/dpkg/info/gone.md5sums", "00000000000000000000000000000004  usr/bin/gone\n")
        // A dpkg package that ships a Python distribution's RECORD, as python3-pip does.
        layer.file("var/lib/dpkg/info/python3-app.list", "/" + site + "/app-1.0.dist-info/RECORD\n")
        layer.file(
            "var/lib/dpkg/info/python3-app.md5sums",
            "00000000000000000000000000000005  " + site + "/app-1.0.dist-info/RECORD\n")
        addPython(to: &layer)
        return TestImageBuilder(layers: [layer])
    }

    static let status = """
        Package: libfoo1
        Status: install ok installed
        Architecture: amd64
        Multi-Arch: same
        Version: 1.2-3
        Depends: libc6 (>= 2.34)
        Description: a library
         with a long description

        Package: tool
        Status: install ok installed
        Architecture: amd64
        Version: 2.0
        Pre-Depends: libfoo1 (>= 1.2)
        Depends: libfoo1, gone | other
        Recommends: gone
        Provides: tool-virtual
        Conffiles:
         /etc/tool.conf 0123456789abcdef0123456789abcdef
        Description: a tool

        Package: gone
        Status: install ok installed
        Architecture: amd64
        Version: 0.9
        Description: goes away

        Package: python3-app
        Status: install ok installed
        Architecture: all
        Version: 1.0-1
        Description: ships app's RECORD

        Package: meta
        Status: install ok installed
        Architecture: all
        Version: 1
        Depends: tool
        Description: owns no files


        """

    private static func addPython(to layer: inout TestLayer) {
        for directory in [
            "app", "app/tests", "app-1.0.dist-info", "devtool-2.0.dist-info", "legacy",
            "legacy-0.1.egg-info", "debpkg", "debpkg-3.0.dist-info",
        ] {
            layer.directory(site + "/" + directory)
        }
        layer.file(site + "/app/__init__.py", "print('app')\n")
        layer.file(site + "/app/tests/test_app.py", "assert True\n")
        layer.file("usr/local/bin/app", "#!/usr/bin/python3\n")
        layer.file(
            site + "/app-1.0.dist-info/METADATA",
            """
            Metadata-Version: 2.1
            Name: app
            Version: 1.0
            Requires-Dist: devtool>=2; extra == "dev"
            Requires-Dist: legacy

            A long description: that is not a header.
            """)
        layer.file(site + "/app-1.0.dist-info/REQUESTED", "")
        layer.file(site + "/app-1.0.dist-info/INSTALLER", "pip\n")
        layer.file(
            site + "/app-1.0.dist-info/RECORD",
            """
            app/__init__.py,sha256=abc,13
            app/tests/test_app.py,sha256=def,12
            ../../../bin/app,sha256=ghi,19
            app-1.0.dist-info/METADATA,sha256=jkl,100
            app-1.0.dist-info/RECORD,,

            """)
        layer.file(site + "/devtool.py", "tool = 1\n")
        layer.file(site + "/odd,name.py", "odd = 1\n")
        layer.file(site + "/devtool-2.0.dist-info/METADATA", "Name: devtool\nVersion: 2.0\n")
        // Python's csv module ends RECORD lines with CRLF.
        layer.file(
            site + "/devtool-2.0.dist-info/RECORD",
            "devtool.py,sha256=x,9\r\n\"odd,name.py\",sha256=y,8\r\ndevtool-2.0.dist-info/RECORD,,\r\n")
        layer.file(site + "/legacy/__init__.py", "legacy = 1\n")
        layer.file(site + "/legacy-0.1.egg-info/PKG-INFO", "Metadata-Version: 1.0\nName: legacy\nVersion: 0.1\n")
        layer.file(site + "/legacy-0.1.egg-info/installed-files.txt", "../legacy/__init__.py\nPKG-INFO\n")
        layer.file(site + "/debpkg/__init__.py", "deb = 1\n")
        layer.file(site + "/debpkg-3.0.dist-info/METADATA", "Name: debpkg\nVersion: 3.0\n")
        layer.file(site + "/debpkg-3.0.dist-info/top_level.txt", "debpkg\n")
    }
}
