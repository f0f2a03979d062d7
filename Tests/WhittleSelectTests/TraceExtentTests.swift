import Foundation
import Testing
import WhittleFlatten
import WhittleImage
import WhittlePackages
@testable import WhittleSelect
import WhittleTraceFormat
@testable import WhittleTestSupport

/// Import statements read from source text, as the keep set follows them.
@Suite("Import statements")
struct ImportStatementTests {
    @Test func pythonStatementsAtAnyDepthAndOverSeveralLines() {
        let source = """
            import os, json as j
            from .views import (index,
                                detail)
            from . import helpers
            def handler():
                import sqlite3  # only on this route
                from decimal import Decimal
                name = "plugins." + kind
                module = importlib.import_module(name)
                other = importlib.import_module("fixed.module")
            x = "import nothing"  # a string, not a statement
            """
        let found = ImportStatements.python(source)
        #expect(found.modules == ["os", "json", ".views", ".", "sqlite3", "decimal", "fixed.module"])
        #expect(found.fromNames[".views"] == ["index", "detail"])
        #expect(found.fromNames["."] == ["helpers"])
        #expect(found.dynamicLines == [9])
    }

    @Test func pythonLoadsByLiteralNameAndMetadataQueries() {
        let source = """
            from importlib.metadata import version
            spec = importlib.util.find_spec('html.parser')
            v = version("idna")
            d = importlib.metadata.distribution("Flask_Login")
            print(my_version("not a query"), myversion("nor this"))
            """
        let found = ImportStatements.python(source)
        #expect(found.modules.contains("html.parser"))
        #expect(found.metadataQueries == ["idna", "Flask_Login"])
    }

    @Test func javaScriptRequiresAndImports() {
        let source = """
            const express = require('express');
            import path from "node:path";
            export { x } from './lib/x.js';
            app.get('/b', (req, res) => { const semver = require("semver"); res.send(semver.valid('1.2.3')); });
            const plugin = require(name);
            const lazy = await import(`./routes/${route}.js`);
            myrequire('not-a-require');
            """
        let found = ImportStatements.javaScript(source)
        #expect(found.modules == ["express", "node:path", "./lib/x.js", "semver"])
        #expect(found.dynamicLines == [5, 6])
    }
}

/// What a trace keeps beyond the files it saw: whole packages, their dependencies, the
/// modules the app's imports name, and the state it wrote.
@Suite("Trace keep set: packages, imports and state")
struct TraceExtentTests {
    static let site = "usr/local/lib/python3.11/site-packages"
    static let stdlib = "usr/lib/python3.11"

    /// A Python image: an app with an unprobed route, two distributions (web needs util),
    /// one never used, the standard library, and a state directory.
    private func pythonImage() throws -> FlattenedTestImage {
        var layer = TestLayer()
        for directory in [
            "usr", "usr/lib", "usr/local", "usr/local/lib", "usr/local/lib/python3.11", Self.site,
            Self.stdlib, Self.stdlib + "/json", "app", "var", "var/lib", "var/lib/db", "var/lib/db/tables",
        ] {
            layer.directory(directory)
        }
        layer.file(Self.stdlib + "/os.py", "import posixpath\n")
        layer.file(Self.stdlib + "/posixpath.py", "\n")
        layer.file(Self.stdlib + "/json/__init__.py", "from .decoder import JSONDecoder\n")
        layer.file(Self.stdlib + "/json/decoder.py", "import re\n")
        layer.file(Self.stdlib + "/re.py", "\n")
        layer.file(Self.stdlib + "/unittest.py", "\n")
        layer.file(Self.stdlib + "/sqlite3.py", "import unittest\n")
        layer.file("app/main.py", "import web\n\ndef route_b():\n    import json\n    return json\n")
        distribution(
            &layer, "web",
            files: [
                "web/__init__.py": "\n", "web/routes.py": "import sqlite3\n",
                "web/routes.pyi": "def b() -> None: ...\n",
            ],
            requires: ["util>=1"])
        distribution(&layer, "util", files: ["util.py": "\n"], requires: [])
        distribution(&layer, "unused", files: ["unused/__init__.py": "\n"], requires: [])
        distribution(&layer, "meta", files: ["meta/__init__.py": "\n"], requires: [])
        layer.file("var/lib/db/tables/users.db", "rows\n")
        layer.file("var/lib/db/tables/help.db", "rows\n")
        return try FlattenedTestImage(TestImageBuilder(layers: [layer]))
    }

    private func distribution(
        _ layer: inout TestLayer, _ name: String, files: KeyValuePairs<String, String>,
        requires: [String]
    ) {
        let info = Self.site + "/\(name)-1.0.dist-info"
        layer.directory(info)
        for directory in Set(files.compactMap { $0.key.split(separator: "/").dropLast().first }) {
            layer.directory(Self.site + "/" + directory)
        }
        for (file, text) in files { layer.file(Self.site + "/" + file, text) }
        layer.file(
            info + "/METADATA",
            "Metadata-Version: 2.1\nName: \(name)\nVersion: 1.0\n"
                + requires.map { "Requires-Dist: \($0)\n" }.joined())
        layer.file(info + "/RECORD", (files.map(\.key) + ["\(name)-1.0.dist-info/RECORD"]).map { "\($0),,\n" }.joined())
    }

    private func keepSet(
        _ image: FlattenedTestImage, traced: [String], changed: [String] = [],
        extent: TraceKeepSet.Extent = .packages
    ) throws -> TraceKeepSet {
        TraceKeepSet(
            use: TraceKeepSet.Use(paths: traced, changed: changed), tree: image.tree,
            config: ImageConfig(.object([:])), packages: try PackageDatabase(tree: image.tree), extent: extent)
    }

    @Test func aUsedDistributionStaysWholeWithWhatItRequires() throws {
        let image = try pythonImage()
        let keep = try keepSet(image, traced: ["/app/main.py", "/\(Self.site)/web/__init__.py"])
        #expect(keep.reasons[Self.site + "/web/routes.py"] == .closure(.package), "the unprobed module of web")
        #expect(keep.reasons[Self.site + "/web-1.0.dist-info/METADATA"] == .closure(.package))
        #expect(keep.reasons[Self.site + "/util.py"] == .closure(.dependency))
        #expect(keep.reasons[Self.site + "/util-1.0.dist-info/RECORD"] == .closure(.dependency))
        #expect(keep.reasons[Self.site + "/unused/__init__.py"] == nil, "nothing uses it")
        #expect(keep.reasons[Self.site + "/web/routes.pyi"] == nil, "a type stub no running app reads")
    }

    @Test func importsInsideFunctionsAreFollowedIntoTheStandardLibrary() throws {
        let image = try pythonImage()
        let keep = try keepSet(image, traced: ["/app/main.py"])
        #expect(keep.reasons[Self.stdlib + "/json/__init__.py"] == .closure(.importStatement), "route_b's import")
        #expect(keep.reasons[Self.stdlib + "/json/decoder.py"] == .closure(.importStatement), "a relative import")
        #expect(keep.reasons[Self.stdlib + "/re.py"] == .closure(.importStatement), "the standard library's own")
        #expect(keep.reasons[Self.site + "/web/__init__.py"] != nil, "a distribution the app imports")
        // web's routes import sqlite3 (standard library), which names unittest only for its tests.
        #expect(keep.reasons[Self.stdlib + "/sqlite3.py"] == .closure(.importStatement))
        #expect(keep.reasons[Self.stdlib + "/unittest.py"] == nil)
    }

    @Test func metadataReadAtRunTimeKeepsTheDistributionListedAndWhole() throws {
        let image = try pythonImage()
        let keep = try keepSet(image, traced: ["/\(Self.site)/meta-1.0.dist-info/METADATA"])
        #expect(keep.reasons[Self.site + "/meta-1.0.dist-info/METADATA"] == .traced)
        #expect(keep.reasons[Self.site + "/meta-1.0.dist-info/RECORD"] == .closure(.metadata))
        #expect(keep.reasons[Self.site + "/meta/__init__.py"] == .closure(.metadata))
    }

    @Test func aDirectoryTheAppWroteIntoStaysWithAllItHolds() throws {
        let image = try pythonImage()
        let keep = try keepSet(
            image, traced: ["/var/lib/db/tables/users.db", "/var/lib/db/lock"],
            changed: ["/var/lib/db/lock"])
        #expect(keep.reasons["var/lib/db/tables/help.db"] == .closure(.state), "a table the probe never read")
        #expect(keep.reasons["var/lib/db/tables/users.db"] == .traced)
    }

    @Test func whatCountsAsAChangeOfState() {
        typealias Entry = TraceDocument.Entry
        #expect(Entry(path: "/run/app.pid", operations: ["openat", "write"], existed: false).changesState)
        #expect(Entry(path: "/var/lib/app/body", operations: ["mkdir"], existed: false).changesState)
        #expect(
            !Entry(path: "/var", operations: ["mkdir", "newfstatat"], existed: true).changesState,
            "mkdir -p of a parent that was there changed nothing")
        #expect(
            !Entry(path: "/etc/localtime", operations: ["symlink"], existed: true).changesState,
            "a link the path passed through")
        #expect(Entry(path: "/app/link", operations: ["symlink"], existed: false).changesState)
        #expect(!Entry(path: "/etc/app.conf", operations: ["openat", "newfstatat"], existed: true).changesState)
    }

    @Test func filesExtentKeepsOnlyWhatTheTraceSaw() throws {
        let image = try pythonImage()
        let keep = try keepSet(
            image, traced: ["/app/main.py", "/\(Self.site)/web/__init__.py", "/var/lib/db/lock"],
            changed: ["/var/lib/db/lock"], extent: .files)
        #expect(keep.reasons[Self.site + "/web/routes.py"] == nil)
        #expect(keep.reasons[Self.stdlib + "/json/__init__.py"] == nil)
        #expect(keep.reasons["var/lib/db/tables/help.db"] == nil)
    }

    @Test func aNodePackageStaysWholeWithItsDependencies() throws {
        var layer = TestLayer()
        for directory in [
            "app", "app/node_modules", "app/node_modules/express", "app/node_modules/express/lib",
            "app/node_modules/body", "app/node_modules/semver", "app/node_modules/left-pad",
        ] {
            layer.directory(directory)
        }
        layer.file("app/server.js", "const express = require('express');\nfunction b() { return require('semver'); }\n")
        layer.file("app/node_modules/express/package.json", #"{"name": "express", "dependencies": {"body": "^1"}}"#)
        layer.file("app/node_modules/express/index.js", "module.exports = require('./lib/app');\n")
        layer.file("app/node_modules/express/lib/app.js", "\n")
        layer.file("app/node_modules/body/package.json", #"{"name": "body"}"#)
        layer.file("app/node_modules/body/index.js", "\n")
        layer.file("app/node_modules/semver/package.json", #"{"name": "semver"}"#)
        layer.file("app/node_modules/semver/index.js", "\n")
        layer.file("app/node_modules/left-pad/index.js", "\n")
        let image = try FlattenedTestImage(TestImageBuilder(layers: [layer]))
        let keep = try keepSet(image, traced: ["/app/server.js", "/app/node_modules/express/index.js"])
        #expect(keep.reasons["app/node_modules/express/lib/app.js"] == .closure(.package))
        #expect(keep.reasons["app/node_modules/body/index.js"] == .closure(.dependency))
        #expect(keep.reasons["app/node_modules/semver/index.js"] == .closure(.importStatement), "the unprobed route's")
        #expect(keep.reasons["app/node_modules/left-pad/index.js"] == nil)
    }
}

/// Ruby gems, Composer packages, Perl distributions and Debian-packaged libraries: a used
/// one stays whole, with what it declares it needs at run time.
@Suite("Trace keep set: Ruby, PHP and Perl packages")
struct LibraryPackageExtentTests {
    private func keepSet(_ layer: TestLayer, traced: [String]) throws -> TraceKeepSet {
        let image = try FlattenedTestImage(TestImageBuilder(layers: [layer]))
        return TraceKeepSet(
            use: TraceKeepSet.Use(paths: traced, changed: []), tree: image.tree,
            config: ImageConfig(.object([:])), packages: try PackageDatabase(tree: image.tree),
            extent: .packages)
    }

    private func directories(_ layer: inout TestLayer, _ paths: [String]) {
        var made = Set<String>()
        for path in paths {
            var prefix: [Substring] = []
            for part in path.split(separator: "/") {
                prefix.append(part)
                if made.insert(prefix.joined(separator: "/")).inserted {
                    layer.directory(prefix.joined(separator: "/"))
                }
            }
        }
    }

    @Test func aUsedGemStaysWholeWithItsRuntimeDependencies() throws {
        let home = "var/lib/gems/3.1.0"
        var layer = TestLayer()
        directories(
            &layer,
            [
                home + "/specifications", home + "/gems/sinatra-3.0.5/lib/sinatra",
                home + "/gems/rack-2.2.4/lib", home + "/gems/rack-2.0.1/lib", home + "/gems/rspec-3.12.0/lib",
                home + "/extensions/x86_64-linux/3.1.0/puma-6.0.0", "app",
            ])
        layer.file("app/app.rb", "require 'sinatra'\n")
        layer.file(home + "/gems/sinatra-3.0.5/lib/sinatra.rb", "require 'sinatra/base'\n")
        layer.file(home + "/gems/sinatra-3.0.5/lib/sinatra/base.rb", "\n")
        layer.file(home + "/gems/rack-2.2.4/lib/rack.rb", "\n")
        layer.file(home + "/gems/rack-2.0.1/lib/rack.rb", "\n")
        layer.file(home + "/gems/rspec-3.12.0/lib/rspec.rb", "\n")
        layer.file(
            home + "/specifications/sinatra-3.0.5.gemspec",
            """
            Gem::Specification.new do |s|
              s.add_runtime_dependency(%q<rack>.freeze, ["~> 2.2"])
              s.add_development_dependency(%q<rspec>.freeze, [">= 0"])
            end
            """)
        layer.file(home + "/specifications/rack-2.2.4.gemspec", "\n")
        layer.file(home + "/specifications/rack-2.0.1.gemspec", "\n")
        layer.file(home + "/specifications/rspec-3.12.0.gemspec", "\n")
        let keep = try keepSet(layer, traced: ["/app/app.rb", "/\(home)/gems/sinatra-3.0.5/lib/sinatra.rb"])
        #expect(keep.reasons[home + "/gems/sinatra-3.0.5/lib/sinatra/base.rb"] == .closure(.package))
        #expect(keep.reasons[home + "/specifications/sinatra-3.0.5.gemspec"] == .closure(.package))
        #expect(keep.reasons[home + "/gems/rack-2.2.4/lib/rack.rb"] == .closure(.dependency), "the newest rack")
        #expect(keep.reasons[home + "/specifications/rack-2.2.4.gemspec"] == .closure(.dependency))
        #expect(keep.reasons[home + "/gems/rack-2.0.1/lib/rack.rb"] == nil)
        #expect(keep.reasons[home + "/gems/rspec-3.12.0/lib/rspec.rb"] == nil, "a development dependency")
    }

    @Test func aUsedComposerPackageStaysWholeWithWhatItRequires() throws {
        var layer = TestLayer()
        directories(
            &layer,
            [
                "app/vendor/composer", "app/vendor/slim/slim/Slim/Routing", "app/vendor/psr/log/src",
                "app/vendor/monolog/monolog/src",
            ])
        layer.file("app/index.php", "<?php require 'vendor/autoload.php';\n")
        layer.file("app/vendor/composer/installed.json", "{}\n")
        layer.file(
            "app/vendor/slim/slim/composer.json",
            #"{"name": "slim/slim", "require": {"php": ">=8.0", "ext-json": "*", "psr/log": "^3"}}"#)
        layer.file("app/vendor/slim/slim/Slim/App.php", "<?php\n")
        layer.file("app/vendor/slim/slim/Slim/Routing/Route.php", "<?php\n")
        layer.file("app/vendor/psr/log/src/LoggerInterface.php", "<?php\n")
        layer.file("app/vendor/monolog/monolog/src/Logger.php", "<?php\n")
        let keep = try keepSet(layer, traced: ["/app/index.php", "/app/vendor/slim/slim/Slim/App.php"])
        #expect(keep.reasons["app/vendor/slim/slim/Slim/Routing/Route.php"] == .closure(.package))
        #expect(keep.reasons["app/vendor/psr/log/src/LoggerInterface.php"] == .closure(.dependency))
        #expect(keep.reasons["app/vendor/monolog/monolog/src/Logger.php"] == nil)
    }

    @Test func aPerlDistributionStaysWholeByItsPacklist() throws {
        let arch = "usr/local/lib/x86_64-linux-gnu/perl/5.36.0"
        let shared = "usr/local/share/perl/5.36.0"
        var layer = TestLayer()
        directories(&layer, [arch + "/auto/Mojo", shared + "/Mojo", shared + "/Other"])
        layer.file(shared + "/Mojo/Base.pm", "1;\n")
        layer.file(shared + "/Mojo/Template.pm", "1;\n")
        layer.file(shared + "/Other/Thing.pm", "1;\n")
        layer.file(arch + "/auto/Mojo/.packlist", "/\(shared)/Mojo/Base.pm\n/\(shared)/Mojo/Template.pm type=file\n")
        let keep = try keepSet(layer, traced: ["/\(shared)/Mojo/Base.pm"])
        #expect(keep.reasons[shared + "/Mojo/Template.pm"] == .closure(.package))
        #expect(keep.reasons[arch + "/auto/Mojo/.packlist"] == .closure(.package))
        #expect(keep.reasons[shared + "/Other/Thing.pm"] == nil)
    }

    @Test func aDebianPackagedPerlLibraryStaysWholeWithItsLibraryDependencies() throws {
        var layer = TestLayer()
        directories(
            &layer,
            [
                "var/lib/dpkg/info", "usr/share/perl5/JSON/backportPP", "usr/share/perl5/Types",
                "usr/share/perl5/Unused", "usr/bin", "usr/share/doc/libjson-perl",
            ])
        layer.file(
            "var/lib/dpkg/status",
            """
            Package: libjson-perl
            Status: install ok installed
            Architecture: all
            Version: 4.10-1
            Depends: perl, libtypes-serialiser-perl

            Package: libtypes-serialiser-perl
            Status: install ok installed
            Architecture: all
            Version: 1.01-1

            Package: libunused-perl
            Status: install ok installed
            Architecture: all
            Version: 1.0-1

            Package: perl
            Status: install ok installed
            Architecture: amd64
            Version: 5.36.0-7

            """)
        layer.file(
            "var/lib/dpkg/info/libjson-perl.list",
            "/usr/share/perl5/JSON.pm\n/usr/share/perl5/JSON/backportPP.pm\n/usr/share/doc/libjson-perl/copyright\n")
        layer.file("var/lib/dpkg/info/libtypes-serialiser-perl.list", "/usr/share/perl5/Types/Serialiser.pm\n")
        layer.file("var/lib/dpkg/info/libunused-perl.list", "/usr/share/perl5/Unused/Thing.pm\n")
        layer.file("var/lib/dpkg/info/perl.list", "/usr/bin/perl\n")
        layer.file("usr/share/perl5/JSON.pm", "1;\n")
        layer.file("usr/share/perl5/JSON/backportPP.pm", "1;\n")
        layer.file("usr/share/perl5/Types/Serialiser.pm", "1;\n")
        layer.file("usr/share/perl5/Unused/Thing.pm", "1;\n")
        layer.file("usr/share/doc/libjson-perl/copyright", "text\n")
        layer.file("usr/bin/perl", "binary\n")
        let keep = try keepSet(layer, traced: ["/usr/share/perl5/JSON.pm"])
        #expect(keep.reasons["usr/share/perl5/JSON/backportPP.pm"] == .closure(.package))
        #expect(keep.reasons["usr/share/perl5/Types/Serialiser.pm"] == .closure(.dependency))
        #expect(keep.reasons["usr/share/perl5/Unused/Thing.pm"] == nil)
        #expect(keep.reasons["usr/bin/perl"] == nil, "only library code follows a library's dependencies")
        #expect(keep.reasons["usr/share/doc/libjson-perl/copyright"] == nil)
    }

    @Test func rubyAndPerlRequiresAreFollowedIntoTheStandardLibrary() throws {
        var layer = TestLayer()
        directories(
            &layer,
            [
                "app", "usr/lib/ruby/3.1.0/erb", "usr/lib/ruby/vendor_ruby/rack",
                "usr/lib/x86_64-linux-gnu/ruby/3.1.0", "usr/share/perl/5.36/Text",
                "usr/lib/x86_64-linux-gnu/perl/5.36/auto/List/Util", "usr/lib/x86_64-linux-gnu/perl/5.36/List",
                "usr/share/perl5",
            ])
        layer.file("app/app.rb", "require_relative 'helpers'\ndef b\n  require 'erb'\n  require name\nend\n")
        layer.file("app/helpers.rb", "require 'rack/utils'\n")
        layer.file("usr/lib/ruby/3.1.0/erb.rb", "require 'erb/util'\nrequire 'minitest'\n")
        layer.file("usr/lib/ruby/3.1.0/erb/util.rb", "require 'cgi/escape'\n")
        layer.file("usr/lib/x86_64-linux-gnu/ruby/3.1.0/cgi", "")
        layer.file("usr/lib/ruby/vendor_ruby/rack/utils.rb", "\n")
        layer.file(
            "app/server.pl", "use strict;\nsub b {\n  require Text::Wrap;\n  use parent -norequire, 'Base';\n}\n")
        layer.file("usr/share/perl/5.36/strict.pm", "1;\n")
        layer.file("usr/share/perl/5.36/Text/Wrap.pm", "use List::Util;\n1;\n")
        layer.file("usr/lib/x86_64-linux-gnu/perl/5.36/List/Util.pm", "1;\n")
        layer.file("usr/lib/x86_64-linux-gnu/perl/5.36/auto/List/Util/Util.so", "ELF\n")
        let keep = try keepSet(layer, traced: ["/app/app.rb", "/app/server.pl"])
        #expect(keep.reasons["app/helpers.rb"] == .closure(.importStatement), "require_relative")
        #expect(keep.reasons["usr/lib/ruby/vendor_ruby/rack/utils.rb"] == .closure(.importStatement))
        #expect(keep.reasons["usr/lib/ruby/3.1.0/erb.rb"] == .closure(.importStatement), "the unprobed method's")
        #expect(
            keep.reasons["usr/lib/ruby/3.1.0/erb/util.rb"] == .closure(.importStatement), "followed from the library")
        #expect(keep.reasons["usr/share/perl/5.36/Text/Wrap.pm"] == .closure(.importStatement))
        #expect(keep.reasons["usr/lib/x86_64-linux-gnu/perl/5.36/List/Util.pm"] == .closure(.importStatement))
        #expect(
            keep.reasons["usr/lib/x86_64-linux-gnu/perl/5.36/auto/List/Util/Util.so"] == .closure(.importStatement),
            "the compiled half XSLoader loads")
    }

    @Test func rubyAndPerlStatementsAsWritten() {
        let ruby = ImportStatements.ruby(
            """
            require 'json'
              require("net/http")
            require_relative "lib/b"
            autoload :Utils, 'rack/utils'
            require plugin_name
            required = 1
            """)
        #expect(ruby.modules == ["json", "net/http", "./lib/b", "rack/utils"])
        #expect(ruby.dynamicLines == [5])
        let perl = ImportStatements.perl(
            """
            use 5.010;
            use strict;
            use HTTP::Daemon ();
                require Text::CSV;
            use parent qw(Plack::Component Other::Base);
            use base -norequire, 'Local';
            require "config.pl";
            require $module;
            """)
        #expect(
            perl.modules == [
                "strict.pm", "HTTP/Daemon.pm", "Text/CSV.pm", "Plack/Component.pm", "Other/Base.pm",
                "Local.pm", "config.pl",
            ])
        #expect(perl.dynamicLines == [8])
    }

    @Test func gemspecAndComposerFieldsAreReadAsInstalled() {
        let spec = """
            s.add_runtime_dependency(%q<rack>.freeze, ["~> 2.2"])
            s.add_dependency("tilt", "~> 2.0")
            s.add_development_dependency(%q<rake>.freeze, [">= 0"])
            """
        #expect(LibraryPackages.gemRuntimeDependencies(spec) == ["rack", "tilt"])
        #expect(
            LibraryPackages.composerRequirements(#"{"require": {"php": "^8", "psr/log": "^3", "ext-pdo": "*"}}"#)
                == ["psr/log"])
    }
}
