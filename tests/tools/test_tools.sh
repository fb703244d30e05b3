#!/usr/bin/env bash
# End-to-end tests of the command-line tools and examples against a
# kprod-mock cluster, read back with kcat (an independent consumer).
#   test_tools.sh BUILD_DIR
set -u
B=$1
T=$(mktemp -d)
pass=0 fail=0
MOCK_PID=
cleanup() {
  [ -n "$MOCK_PID" ] && kill -TERM "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
ok()   { pass=$((pass + 1)); echo "ok   $1"; }
bad()  { fail=$((fail + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

mkfifo "$T/out"
"$B/tools/kprod-mock" --brokers 3 --topic first:3 --topic test2:3 --topic console:4 \
  --topic vg:2 >"$T/out" 2>"$T/mock.err" &
MOCK_PID=$!
exec 3<"$T/out"
if ! IFS= read -r -t 30 BOOT <&3; then
  echo "kprod-mock did not print its bootstrap list"; cat "$T/mock.err"; exit 1
fi
check "kprod-mock prints a bootstrap list of 3 brokers" \
  '[ "$(echo "$BOOT" | tr , "\n" | grep -cE "^127\.0\.0\.1:[0-9]+$")" = 3 ]'

# kcat: all records of a topic as "partition<TAB>key<TAB>value"
consume() { kcat -C -b "$BOOT" -t "$1" -e -q -f '%p\t%k\t%s\n' 2>/dev/null | sort; }

# ---- examples ----
"$B/examples/async_send" "$BOOT" >"$T/async.out" 2>&1
check "async_send exits 0" '[ $? = 0 ]'
"$B/examples/callback_send" "$BOOT" >"$T/cb.out" 2>&1
check "callback_send exits 0" '[ $? = 0 ]'
check "callback_send prints 5 acknowledgements" \
  '[ "$(grep -cE "^topic: first partition: [0-2] offset: [0-9]+$" "$T/cb.out")" = 5 ]'
check "topic first holds the 10 example records" \
  '[ "$(consume first | grep -cE "kafka first (callback )?msg : [0-4]$")" = 10 ]'
"$B/examples/sync_send" "$BOOT" >"$T/sync.out" 2>&1
check "sync_send exits 0" '[ $? = 0 ]'
expected=$(for i in 0 1 2 3 4 5 6 7 8 9; do echo "sent $i"; echo "acked $i"; done)
check "sync_send alternates sent/acked" \
  '[ "$(sed -E "s/^(acked [0-9]+).*/\1/" "$T/sync.out")" = "$expected" ]'
# each acknowledged (partition, key) is where kcat finds the record
sed -nE 's/^acked ([0-9]+) partition ([0-9]+) offset [0-9]+$/\2\t\1\tmessage \1/p' "$T/sync.out" \
  | sort >"$T/sync.acked"
consume test2 >"$T/test2.read"
check "sync_send's reported partitions match what kcat reads" \
  'diff "$T/sync.acked" "$T/test2.read" >/dev/null'

# ---- kprod-console ----
for i in $(seq 1 1000); do printf 'key%d:value %d\n' $((i % 17)) "$i"; done >"$T/lines"
"$B/tools/kprod-console" --bootstrap-server "$BOOT" --topic console \
  --property parse.key=true --property key.separator=: <"$T/lines" >"$T/c.out" 2>"$T/c.err"
check "kprod-console: 1000 keyed lines, exit 0" '[ $? = 0 ] && [ ! -s "$T/c.err" ]'
consume console | cut -f2- | tr '\t' : | sort >"$T/c.read"
sort "$T/lines" >"$T/c.sent"
check "kprod-console: kcat reads back exactly the lines sent" 'diff "$T/c.sent" "$T/c.read" >/dev/null'
check "kprod-console: a key always lands in one partition" \
  '[ "$(consume console | cut -f1,2 | sort -u | cut -f2 | sort | uniq -d | wc -l)" = 0 ]'

printf 'good:1\nno separator here\ngood:2\n' | "$B/tools/kprod-console" --bootstrap-server "$BOOT" \
  --topic console --property parse.key=true --property key.separator=: >/dev/null 2>"$T/sep.err"
rc=$?
check "kprod-console: a line without the separator fails the run (exit 1)" '[ $rc = 1 ]'
check "kprod-console: ...and says which line" 'grep -q "line number 2" "$T/sep.err"'
check "kprod-console: ...and still delivers the others" \
  '[ "$(consume console | wc -l)" = 1002 ]'

echo x | "$B/tools/kprod-console" --bootstrap-server "$BOOT" --topic console \
  --producer-property linger.ms=-3 >/dev/null 2>"$T/prop.err"
rc=$?
check "kprod-console: an invalid property exits 1 naming it" \
  '[ $rc = 1 ] && grep -q "linger.ms" "$T/prop.err"'
echo x | "$B/tools/kprod-console" --bootstrap-server "$BOOT" --topic console --bogus \
  >/dev/null 2>&1
check "kprod-console: an unknown option is a usage error (exit 2)" '[ $? = 2 ]'
printf 'acks=1\n# a comment\nlinger.ms = 1\n' >"$T/p.properties"
echo "from-config" | "$B/tools/kprod-console" --bootstrap-server "$BOOT" --topic console \
  --producer.config "$T/p.properties" >/dev/null 2>&1
check "kprod-console: --producer.config loads a properties file" \
  '[ $? = 0 ] && consume console | grep -q "from-config"'

if command -v valgrind >/dev/null; then
  seq 1 200 | valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    "$B/tools/kprod-console" --bootstrap-server "$BOOT" --topic vg >/dev/null 2>"$T/vg.err"
  rc=$?
  check "kprod-console is valgrind-clean (exit $rc)" '[ $rc = 0 ]'
  [ $rc = 0 ] || tail -30 "$T/vg.err"
  check "valgrind run delivered 200 records" '[ "$(consume vg | wc -l)" = 200 ]'
fi

kill -TERM "$MOCK_PID"; wait "$MOCK_PID"; rc=$?; MOCK_PID=
check "kprod-mock exits 0 on SIGTERM" '[ $rc = 0 ]'
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
