#!/usr/bin/env python3
"""Ask one app of the zoo its question (or an app of the unprobed set its questions)
and print the answer.

usage: bench/zoo_ask.py MANIFEST NAME [--question Q | --all] [--docker-container ID] [--timeout S] [--expect-ok]
       bench/zoo_ask.py MANIFEST NAME --check-ports-free

MANIFEST is bench/image/zoo/apps.json; NAME one of its apps (e.g. zoo-nginx).
An app of bench/image/unprobed/apps.json has several named questions
("questions": [{"name": Q, "probed": BOOL, "http"|"exec": ...}, ...]):
--question Q asks one of them and prints its answer as for a zoo app; --all asks
each in the manifest's order and prints, per question, a block
  === Q LENGTH\n   then the answer's LENGTH bytes, then \n
(Q has no spaces; LENGTH counts bytes). --all on a zoo app asks its single
question under the name "question".
A question is either
  {"http": URL}     GET URL (the app shares the host's network); the answer is
                    the status code on the first line, then the body as sent
  {"exec": [ARGV]}  `docker exec ID ARGV...` in the running container (needs
                    --docker-container; DOCKER_HOST from the environment); the
                    answer is its stdout
Until an answer comes the question is asked again (connection refused or reset,
no response, a non-zero exit of the command), for up to --timeout seconds
(default 90; with --all, for each question). Any HTTP response counts as the
answer, whatever its status: a broken app answers 404 or 500 for good, and the
caller compares answers. With --expect-ok (for recording the original's answer)
only a 2xx status counts; any other is asked again, and reported if it is still
the last one at the deadline.
Exits 1, saying why on stderr, when no answer came in time; 2 on bad usage.

--check-ports-free asks nothing: it exits 1 if something on this host already
accepts connections on a port the app is probed on (its traceArgs'
--probe-http and --probe-tcp), since the app shares the host's network and
another process would answer in its place.
Standard library only.
"""
import argparse
import http.client
import json
import subprocess
import sys
import time
import socket
import urllib.error
import urllib.parse
import urllib.request

RETRY_PAUSE = 0.5  # seconds between attempts
REQUEST_TIMEOUT = 10  # seconds one HTTP request or one exec may take


def load_app(manifest, name):
    with open(manifest, encoding="utf-8") as f:
        apps = json.load(f)
    for app in apps:
        if app.get("name") == name:
            return app
    known = ", ".join(a.get("name", "?") for a in apps)
    raise SystemExit(f"zoo_ask: no app named {name!r} in {manifest} (known: {known})")


def ask_http(url, expect_ok):
    """(answer bytes, None) or (None, why not yet)."""
    request = urllib.request.Request(url, headers={"User-Agent": "whittle-zoo-ask"})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            return b"%d\n" % response.status + response.read(), None
    except urllib.error.HTTPError as e:  # a response all the same: 404, 500, ...
        body = e.read() if e.fp is not None else b""
        if expect_ok:
            return None, f"HTTP {e.code}: {body[:200].decode(errors='replace').strip()}"
        return b"%d\n" % e.code + body, None
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        return None, f"{type(e).__name__}: {reason}"


def ask_exec(container, argv):
    """(stdout bytes, None) or (None, why not yet)."""
    try:
        done = subprocess.run(["docker", "exec", container, *argv], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=REQUEST_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, f"docker exec took more than {REQUEST_TIMEOUT}s"
    if done.returncode == 0:
        return done.stdout, None
    last = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
    return None, f"exit {done.returncode}: {last[0]}"


def probed_ports(app):
    """(host, port) of each --probe-http and --probe-tcp in the app's traceArgs."""
    args = app.get("traceArgs", [])
    found = []
    for flag, value in zip(args, args[1:]):
        if flag == "--probe-http":
            url = urllib.parse.urlsplit(value)
            found.append((url.hostname, url.port or (443 if url.scheme == "https" else 80)))
        elif flag == "--probe-tcp":
            host, _, port = value.rpartition(":")
            found.append((host.strip("[]"), int(port)))
    return found


def ports_taken(app):
    taken = []
    for host, port in dict.fromkeys(probed_ports(app)):
        try:
            with socket.create_connection((host, port), timeout=2):
                taken.append(f"{host}:{port}")
        except OSError:
            pass
    return taken


def main():
    parser = argparse.ArgumentParser(description="Ask one app of the zoo its question.")
    parser.add_argument("manifest")
    parser.add_argument("name")
    parser.add_argument("--docker-container", metavar="ID")
    parser.add_argument("--timeout", type=float, default=90.0, metavar="S")
    parser.add_argument("--expect-ok", action="store_true",
                        help="only an HTTP status 2xx counts as the answer")
    parser.add_argument("--question", metavar="Q", help="ask the app's question named Q")
    parser.add_argument("--all", action="store_true",
                        help="ask every question of the app, printing one block per question")
    parser.add_argument("--check-ports-free", action="store_true",
                        help="only check that nothing on this host listens on the app's ports")
    args = parser.parse_args()
    if args.all and args.question is not None:
        parser.error("--question and --all exclude each other")

    app = load_app(args.manifest, args.name)
    if args.check_ports_free:
        taken = ports_taken(app)
        if taken:
            print(f"zoo_ask: {args.name}'s port is already taken on this host: {', '.join(taken)}", file=sys.stderr)
            return 1
        return 0
    if args.all:
        questions = named_questions(app, parser, args.name)
        answers = []
        for question in questions:
            answer = ask_until_answered(parser, args, question)
            if answer is None:
                return 1
            answers.append(b"=== %s %d\n" % (question["name"].encode(), len(answer)) + answer + b"\n")
        sys.stdout.buffer.write(b"".join(answers))
        sys.stdout.buffer.flush()
        return 0
    if args.question is not None:
        chosen = [q for q in named_questions(app, parser, args.name) if q["name"] == args.question]
        if not chosen:
            parser.error(f"{args.name} has no question named {args.question!r}")
        question = chosen[0]
    elif "questions" in app and "question" not in app:
        parser.error(f"{args.name} has several questions: name one with --question Q, or ask --all")
    else:
        question = app.get("question") or {}
    answer = ask_until_answered(parser, args, question)
    if answer is None:
        return 1
    sys.stdout.buffer.write(answer)
    sys.stdout.buffer.flush()
    return 0


def named_questions(app, parser, name):
    """The app's named questions: its "questions", or its single "question" as "question"."""
    if "questions" in app:
        questions = app["questions"]
    elif "question" in app:
        questions = [dict(app["question"], name="question")]
    else:
        parser.error(f"{name} has no question")
    for question in questions:
        if not question.get("name") or any(c.isspace() for c in question["name"]):
            parser.error(f"{name}: every question needs a name without spaces, got {json.dumps(question)}")
    return questions


def ask_until_answered(parser, args, question):
    """The answer to one question (bytes), or None, said why on stderr, when none came in time."""
    label = args.name if "name" not in question else f"{args.name} ({question['name']})"
    if "http" in question:
        url = question["http"]
        what = f"GET {url}"
        ask = lambda: ask_http(url, args.expect_ok)  # noqa: E731
    elif "exec" in question:
        argv = question["exec"]
        if not args.docker_container:
            parser.error(f"{label} is asked with docker exec: --docker-container ID is needed")
        what = f"docker exec {args.docker_container} {' '.join(argv)}"
        ask = lambda: ask_exec(args.docker_container, argv)  # noqa: E731
    else:
        parser.error(f"{label}: question needs 'http' or 'exec', got {json.dumps(question)}")

    deadline = time.monotonic() + args.timeout
    attempts = 0
    while True:
        attempts += 1
        answer, why = ask()
        if answer is not None:
            return answer
        if time.monotonic() + RETRY_PAUSE >= deadline:
            print(f"zoo_ask: {label} gave no answer in {args.timeout:g}s ({attempts} attempts of {what}); "
                  f"last: {why}", file=sys.stderr)
            return None
        time.sleep(RETRY_PAUSE)


if __name__ == "__main__":
    sys.exit(main())
