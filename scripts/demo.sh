#!/bin/sh
# demo.sh BUILD_DIR — what `make demo` shows, against a throw-away cluster:
#
#   1. start kprod-mock (librdkafka's mock cluster: 3 brokers, topics
#      "first" and "test2" with 3 partitions each) and read the bootstrap
#      list from the first line it prints;
#   2. run the three send-mode examples (async_send, callback_send,
#      sync_send), then pipe keyed lines through kprod-console;
#   3. read both topics back with kcat, an independent consumer, and check
#      the record counts (first: 5 + 5, test2: 10 + 3);
#   4. stop the cluster — also when a step fails or the demo is interrupted.
#
# Every step runs even if an earlier one failed; the exit status is 0 only
# if all of them succeeded. Each program is given KPROD_DEMO_TIMEOUT seconds
# (default 200: beyond the producer's max.block.ms + delivery.timeout.ms).
# POSIX sh: `make demo` runs it with sh.
set -u

if [ $# -ne 1 ]; then
    echo "usage: demo.sh BUILD_DIR" >&2
    exit 2
fi
BUILD=$1
MOCK=$BUILD/tools/kprod-mock
CONSOLE=$BUILD/tools/kprod-console
EX=$BUILD/examples
LIMIT=${KPROD_DEMO_TIMEOUT:-200}

die() {
    echo "demo: $*" >&2
    exit 1
}

for prog in "$MOCK" "$CONSOLE" "$EX/async_send" "$EX/callback_send" "$EX/sync_send"; do
    [ -x "$prog" ] || die "$prog not found: build first (make build)"
done
command -v kcat >/dev/null 2>&1 || die "kcat not found (make deps installs it)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kprod-demo.XXXXXX") || die "cannot create a temporary directory"
mock_pid=""

# Stop the cluster if it is running; the status is the mock's exit status.
stop_cluster() {
    [ -n "$mock_pid" ] || return 0
    kill -TERM "$mock_pid" 2>/dev/null
    wait "$mock_pid"
    stop_rc=$?
    mock_pid=""
    return "$stop_rc"
}
cleanup() {
    stop_cluster
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Run a program with a time limit, so a hang cannot stall the demo.
# --foreground keeps it in our process group, so Ctrl-C reaches it.
if command -v timeout >/dev/null 2>&1; then
    limit() { timeout --foreground "$LIMIT" "$@"; }
else
    limit() { "$@"; }
fi

FAILED=""
# step TITLE COMMAND...: a heading, then COMMAND; remember TITLE if it fails.
step() {
    title=$1
    shift
    printf '\n=== %s ===\n' "$title"
    "$@"
    rc=$?
    if [ "$rc" -eq 124 ]; then
        echo "demo: FAILED: $title (timed out after ${LIMIT}s)" >&2
    elif [ "$rc" -ne 0 ]; then
        echo "demo: FAILED: $title (exit status $rc)" >&2
    fi
    [ "$rc" -eq 0 ] || FAILED="$FAILED
  - $title"
}

show() { printf '$ %s\n' "$*"; }

# ---- 1. the cluster ------------------------------------------------------

printf '=== starting the mock cluster ===\n'
show "$MOCK --brokers 3 --topic first:3 --topic test2:3 &"
: >"$tmp/mock.out" # exists before the first read below
"$MOCK" --brokers 3 --topic first:3 --topic test2:3 >"$tmp/mock.out" 2>"$tmp/mock.err" &
mock_pid=$!

# Wait (at most ~15 s) for the first complete line: read succeeds only once
# the line's newline is there. Give up at once if the mock has exited.
BOOT=""
i=0
while [ "$i" -lt 300 ]; do
    IFS= read -r BOOT <"$tmp/mock.out" && break
    BOOT=""
    kill -0 "$mock_pid" 2>/dev/null || break
    sleep 0.05
    i=$((i + 1))
done
if [ -z "$BOOT" ]; then
    if kill -0 "$mock_pid" 2>/dev/null; then
        echo "demo: kprod-mock printed no bootstrap list within 15 s" >&2
    else
        echo "demo: kprod-mock exited before printing its bootstrap list" >&2
    fi
    cat "$tmp/mock.err" >&2
    exit 1
fi
echo "bootstrap servers: $BOOT"

# ---- 2. producing --------------------------------------------------------

run_async() {
    echo "# 5 records to 'first', no callback: it prints nothing (kcat shows them below)"
    show "$EX/async_send $BOOT"
    limit "$EX/async_send" "$BOOT"
}
run_callback() {
    echo "# 5 records to 'first'; the callback prints each acknowledgement"
    show "$EX/callback_send $BOOT"
    limit "$EX/callback_send" "$BOOT"
}
run_sync() {
    echo "# 10 keyed records to 'test2', waiting for each before sending the next"
    show "$EX/sync_send $BOOT"
    limit "$EX/sync_send" "$BOOT"
}
run_console() {
    echo "# 3 keyed lines to 'test2'; prints nothing unless a record fails"
    show "printf 'k1:hello\\nk2:world\\nk1:again\\n' |" \
        "$CONSOLE --bootstrap-server $BOOT --topic test2" \
        "--property parse.key=true --property key.separator=:"
    printf 'k1:hello\nk2:world\nk1:again\n' |
        limit "$CONSOLE" --bootstrap-server "$BOOT" --topic test2 \
            --property parse.key=true --property key.separator=:
}

step "send mode 1, fire and forget: examples/async_send.c" run_async
step "send mode 2, with a callback: examples/callback_send.c" run_callback
step "send mode 3, synchronous: examples/sync_send.c" run_sync
step "kprod-console: lines from stdin" run_console

# ---- 3. reading back -----------------------------------------------------

# readback TOPIC EXPECTED: print the topic's records, sorted by partition and
# offset (kcat interleaves partitions), and check how many there are.
readback() {
    show "kcat -C -b $BOOT -t $1 -e -q -f 'partition %p offset %o key %k value %s\\n'"
    limit kcat -C -b "$BOOT" -t "$1" -e -q -f 'partition %p offset %o key %k value %s\n' \
        >"$tmp/$1.txt" || return
    sort -k2,2n -k4,4n "$tmp/$1.txt"
    n=$(grep -c '^partition ' "$tmp/$1.txt")
    if [ "$n" -ne "$2" ]; then
        echo "demo: expected $2 records in '$1', read $n" >&2
        return 1
    fi
    echo "($n records)"
}

step "read back 'first' with kcat (10 records, null keys)" readback first 10
step "read back 'test2' with kcat (13 records; equal keys share a partition)" readback test2 13

# ---- 4. stopping ---------------------------------------------------------

printf '\n=== stopping the cluster ===\n'
stop_cluster
rc=$?
# 143: killed by the SIGTERM itself, which is how some tools stop.
if [ "$rc" -ne 0 ] && [ "$rc" -ne 143 ]; then
    echo "demo: FAILED: kprod-mock exited with status $rc" >&2
    cat "$tmp/mock.err" >&2
    FAILED="$FAILED
  - stopping the cluster"
fi

if [ -n "$FAILED" ]; then
    printf '\ndemo: these steps failed:%s\n' "$FAILED" >&2
    exit 1
fi
printf '\ndemo: all steps succeeded\n'
