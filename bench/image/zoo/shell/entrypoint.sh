#!/bin/sh
# zoo-shell's entrypoint: prepare the runtime directory and the page, then
# hand the process over to the server.
set -eu

: "${GREETING:=Hello}"
: "${PORT:=18085}"
RUNDIR=/run/zoo-shell
WWW=$RUNDIR/www

uid=$(id -u)
if [ "$uid" -ne 0 ]; then
    echo "zoo-shell: running as uid $uid; $RUNDIR must be writable" >&2
fi
case "$PORT" in
    ''|*[!0-9]*) echo "zoo-shell: PORT must be a number, got '$PORT'" >&2; exit 2 ;;
esac

mkdir -p "$WWW"
# The greeting goes into a sed replacement: escape \, & and the delimiter.
greeting=$(printf '%s' "$GREETING" | sed -e 's/[\\&|]/\\&/g')
sed -e "s|@GREETING@|$greeting|g" -e "s|@UID@|$uid|g" -e "s|@WWW@|$WWW|g" -e "s|@PORT@|$PORT|g" \
    /usr/local/share/zoo-shell/index.html.in >"$WWW/index.html.tmp"
mv "$WWW/index.html.tmp" "$WWW/index.html"
echo "zoo-shell: serving $WWW on 127.0.0.1:$PORT" >&2
exec busybox httpd -f -p "127.0.0.1:$PORT" -h "$WWW"
