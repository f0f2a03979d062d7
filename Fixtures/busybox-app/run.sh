#!/bin/sh
# Prints the same text every time the image runs, so a test can compare it with
# Fixtures/busybox-app.expected-output.txt.
cat /app/msg.txt
echo "user: $(id -u):$(id -g)"
echo "cwd: $(pwd)"
echo "env: APP_MODE=$APP_MODE GREETING=$GREETING"
echo "args: $*"
echo "dated mtime: $(stat -c %Y /app/dated.txt)"
if [ "$1" = "--listing" ]; then
    cd / || exit 1
    find app data etc/passwd etc/group -path data/vol -prune -o -print | LC_ALL=C sort | while IFS= read -r p; do
        if [ -L "$p" ]; then
            echo "$p -> $(readlink "$p")"
        elif [ -f "$p" ]; then
            echo "$p $(stat -c '%A %u:%g %s %h' "$p") $(sha256sum "$p" | cut -c1-16)"
        else
            echo "$p $(stat -c '%A %u:%g' "$p")"
        fi
    done
fi
