#!/usr/bin/env bash
# End-to-end tests of the command-line tools and examples against a
# kprod-mock cluster, read back with kcat (an independent consumer).
#   test_tools.sh BUILD_DIR
set -u
B=$1
T=$(mktemp -d)
MOCK_PID= MOCK2_PID= CONSOLE_PID=
cleanup() {
  [ -n "$CONSOLE_PID" ] && kill -KILL "$CONSOLE_PID" 2>/dev/null
  [ -n "$MOCK2_PID" ] && kill -CONT "$MOCK2_PID" 2>/dev/null && kill -TERM "$MOCK2_PID" 2>/dev/null
  [ -n "$MOCK_PID" ] && kill -TERM "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/lib.sh"

mkfifo "$T/out"
"$B/tools/kprod-mock" --brokers 3 --topic first:3 --topic test2:3 --topic console:4 \
  --topic vg:2 --topic hdr:2 --topic hdrerr:1 --topic hdrign:1 --topic sigint:3 --topic sigterm:3 \
  --topic vgsig:1 --topic txnperf:3 --topic vgtxn:2 >"$T/out" 2>"$T/mock.err" &
MOCK_PID=$!
exec 3<"$T/out"
if ! IFS= read -r -t 30 BOOT <&3; then
  echo "kprod-mock did not print its bootstrap list"; cat "$T/mock.err"; exit 1
fi
check "kprod-mock prints a bootstrap list of 3 brokers" \
  '[ "$(echo "$BOOT" | tr , "\n" | grep -cE "^127\.0\.0\.1:[0-9]+$")" = 3 ]'

# --advertise: broker 2 names another address in Metadata (kcat -L reads it)
"$B/tools/kprod-mock" --brokers 2 --advertise 2:127.0.0.1:9 >"$T/adv.out" 2>"$T/adv.err" &
ADV_PID=$!
wait_for '[ -s "$T/adv.out" ] || exited "$ADV_PID"'
ADV_BOOT=$(head -1 "$T/adv.out" | cut -d, -f1)
timeout 30 kcat -L -b "$ADV_BOOT" -m 5 >"$T/adv.list" 2>/dev/null
check "kprod-mock --advertise: broker 2 is advertised at 127.0.0.1:9, broker 1 at its own port" \
  'grep -q "broker 2 at 127.0.0.1:9\b" "$T/adv.list" && grep -q "broker 1 at $ADV_BOOT" "$T/adv.list"'
kill -TERM "$ADV_PID"; wait "$ADV_PID" 2>/dev/null

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

# transactional_send: transaction 1 (6 records over topic first's 3
# partitions) committed, transaction 2 (3 flushed, 3 left waiting) aborted
"$B/examples/transactional_send" "$BOOT" >"$T/txn.out" 2>&1
rc=$?
check "transactional_send exits 0 (exit $rc)" '[ $rc = 0 ]'
[ $rc = 0 ] || cat "$T/txn.out"
check "transactional_send: init, begin, commit, begin, flush, abort, close each OK" \
  '[ "$(grep -E ": OK$" "$T/txn.out" | tr "\n" ";")" = "init_transactions: OK;txn 1: begin_transaction: OK;txn 1: commit_transaction: OK;txn 2: begin_transaction: OK;txn 2: flush: OK;txn 2: abort_transaction: OK;close: OK;" ]'
check "transactional_send: the committed records have offsets, on all 3 partitions" \
  '[ "$(grep -cE "^txn 1 record [0-5]: partition [0-2] offset [0-9]+$" "$T/txn.out")" = 6 ] &&
   [ "$(sed -nE "s/^txn 1 record [0-5]: partition ([0-2]) .*/\1/p" "$T/txn.out" | sort -u | wc -l)" = 3 ]'
# a line's number in txn.out (the first match of an extended regex)
line_of() { grep -nE "$1" "$T/txn.out" | head -1 | cut -d: -f1; }
last_of() { grep -nE "$1" "$T/txn.out" | tail -1 | cut -d: -f1; }
check "transactional_send: ...followed by 'txn 1: committed'" \
  '[ -n "$(line_of "^txn 1: committed$")" ] && [ "$(last_of "^txn 1 record")" -lt "$(line_of "^txn 1: committed$")" ]'
check "transactional_send: each aborted record has an offset or says _TXN_ABORTED, NOT_PERSISTED" \
  '[ "$(grep -cE "^txn 2 record [0-5]: (partition [0-2] offset [0-9]+|_TXN_ABORTED persisted=NOT_PERSISTED)$" "$T/txn.out")" = 6 ]'
check "transactional_send: ...after abort_transaction, followed by 'txn 2: aborted'" \
  '[ "$(line_of "^txn 2: abort_transaction: OK$")" -lt "$(line_of "^txn 2 record")" ] &&
   [ "$(last_of "^txn 2 record")" -lt "$(line_of "^txn 2: aborted")" ]'
# kcat finds each committed record at the partition and offset reported (the
# mock ignores the isolation level, so it shows the aborted ones too)
sed -nE 's/^txn 1 record ([0-5]): partition ([0-2]) offset ([0-9]+)$/\2 \3 txn 1 record \1/p' "$T/txn.out" \
  | sort >"$T/txn.acked"
kcat -C -b "$BOOT" -t first -e -q -f '%p %o %s\n' 2>/dev/null | grep " txn 1 record " | sort >"$T/txn.read"
check "transactional_send: kcat reads each committed record at its reported offset" \
  '[ -s "$T/txn.acked" ] && diff "$T/txn.acked" "$T/txn.read" >/dev/null'

# ---- kprod-perf in transactions (kafka-producer-perf-test's flags) ----
"$B/tools/kprod-perf" --topic txnperf --num-records 5000 --record-size 100 --throughput 20000 \
  --transactional-id tools-perf --transaction-duration-ms 50 --print-metrics \
  --producer-props "bootstrap.servers=$BOOT" >"$T/perf.out" 2>"$T/perf.err"
rc=$?
check "kprod-perf --transactional-id --transaction-duration-ms 50: exit 0 (exit $rc)" '[ $rc = 0 ]'
[ $rc = 0 ] || cat "$T/perf.err"
check "kprod-perf transactional: Kafka's summary line, 5000 records sent" \
  'grep -qE "^5000 records sent, [0-9.]+ records/sec \([0-9.]+ MB/sec\), [0-9.]+ ms avg latency, [0-9.]+ ms max latency, [0-9]+ ms 50th, [0-9]+ ms 95th, [0-9]+ ms 99th, [0-9]+ ms 99.9th\.$" "$T/perf.out"'
ncommit=$(sed -nE 's/^kprod-perf:txn-commit-total:.* : ([0-9]+)\.000$/\1/p' "$T/perf.out")
check "kprod-perf transactional: several commits (a 50 ms transaction, 0.25 s of records: $ncommit), none aborted" \
  '[ "${ncommit:-0}" -ge 3 ] && grep -qE "^kprod-perf:txn-abort-total:.* : 0\.000$" "$T/perf.out"'
# --print-metrics: the library's metrics as Kafka's tool prints them, sorted
check "kprod-perf --print-metrics: producer-metrics:record-send-total:{client-id=...} : 5000.000, sorted, with the txn times" \
  'grep -qE "^producer-metrics:record-send-total:\{client-id=[^}]+\} +: 5000\.000$" "$T/perf.out" &&
   grep -qE "^producer-metrics:txn-commit-time-ns-total:\{client-id=[^}]+\} +: [1-9][0-9]*\.000$" "$T/perf.out" &&
   grep -qE "^producer-topic-metrics:record-send-total:\{client-id=[^,]+, topic=txnperf\} +: 5000\.000$" "$T/perf.out" &&
   grep -E "^producer-" "$T/perf.out" | awk "{print \$1}" | sort -c'
check "kprod-perf transactional: kcat reads the 5000 records" \
  '[ "$(kcat -C -b "$BOOT" -t txnperf -e -q 2>/dev/null | wc -l)" = 5000 ]'

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
check "kprod-console: ...and stops there, as Kafka: line 1 delivered, line 3 not" \
  '[ "$(consume console | wc -l)" = 1001 ] && consume console | grep -q "good	1" &&
   ! consume console | grep -q "good	2"'

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

# ---- kprod-console: headers (Kafka's LineMessageReader) ----
# kcat: "keylen|key|valuelen|value|headers"; a null key/value has length -1,
# a null header value prints as NULL (the tests' null.marker is "~").
consume_h() { kcat -C -b "$BOOT" -t "$1" -e -q -f '%K|%k|%S|%s|%h\n' 2>/dev/null | sort; }
console() { "$B/tools/kprod-console" --bootstrap-server "$BOOT" "$@"; }

printf '%b\n' 'h1:v1,h2:v2\tk1\tvalue 1' 'h:a:b,h:\tk2\tv2' 'dup:1,dup:2,dup:3\tk3\tv3' \
  'n:~,e:\t~\t~' '~\tk5\tv5' ',\tk6\tv6' 'a:1,b:2,,\tk7\tv7' 'x:1\tk8\tv8\tmore\ttabs' >"$T/h.in"
console --topic hdr --property parse.headers=true --property parse.key=true \
  --property null.marker='~' <"$T/h.in" >/dev/null 2>"$T/h.err"
check "headers: headers, key, value lines exit 0" '[ $? = 0 ] && [ ! -s "$T/h.err" ]'
printf '%b\n' '2|k1|7|value 1|h1=v1,h2=v2' '2|k2|2|v2|h=a:b,h=' '2|k3|2|v3|dup=1,dup=2,dup=3' \
  '-1||-1||n=NULL,e=' '2|k5|2|v5|' '2|k6|2|v6|' '2|k7|2|v7|a=1,b=2' \
  '2|k8|12|v8	more	tabs|x=1' | sort >"$T/h.want"
consume_h hdr >"$T/h.read"
check "headers: kcat reads each record's headers, in order, repeats kept" \
  'diff "$T/h.want" "$T/h.read"'
# (diff prints the difference on failure)

printf '%b\n' 'p:1\tno key: the value\thas a tab' 'p:2\t~' | console --topic hdr \
  --property parse.headers=true --property null.marker='~' >/dev/null 2>&1
check "headers: parse.headers without parse.key: null key, value is the rest" \
  '[ $? = 0 ] && consume_h hdr | grep -qx -- "-1||27|no key: the value	has a tab|p=1" &&
   consume_h hdr | grep -qx -- "-1||-1||p=2"'

printf '%b\n' 'a=1;b=2||key|the value' 'c=3,d=4||k2|v' | console --topic hdr \
  --property parse.headers=true --property parse.key=true --property 'headers.delimiter=||' \
  --property 'headers.separator=[,;]' --property headers.key.separator== \
  --property 'key.separator=|' >/dev/null 2>&1
check "headers: custom delimiter, key separator, regex headers.separator" \
  '[ $? = 0 ] && consume_h hdr | grep -qx "3|key|9|the value|a=1,b=2" &&
   consume_h hdr | grep -qx "2|k2|1|v|c=3,d=4"'

printf '%b\n' '~\t~\tnull key' 'k\t~' | console --topic hdr --property parse.key=true \
  --property null.marker='~' >/dev/null 2>&1
check "null.marker without headers: null key, null value" \
  '[ $? = 0 ] && consume_h hdr | grep -qx -- "-1||10|~	null key|" &&
   consume_h hdr | grep -qx -- "1|k|-1||"'

# parse errors: Kafka's message; the run stops at the bad line (exit 1), what
# came before is delivered, nothing after it is sent
herr() { # NAME INPUT EXPECTED-MESSAGE [properties...]
  local name=$1 in=$2 msg=$3; shift 3
  printf '%b\n' 'ok:1\tk\tbefore '"$name" "$in" 'ok:3\tk\tafter '"$name" | console --topic hdrerr \
    --property parse.headers=true --property parse.key=true "$@" >/dev/null 2>"$T/herr.err"
  local rc=$?
  check "headers error, $name: exit 1 with Kafka's message" \
    '[ $rc = 1 ] && [ "$(cat "$T/herr.err")" = "error: $msg" ]'
  [ $rc = 1 ] || cat "$T/herr.err"
  check "headers error, $name: line 1 delivered, line 3 not sent" \
    'consume_h hdrerr | grep -q "|before $name|" && ! consume_h hdrerr | grep -q "after $name"'
}
herr "no headers delimiter" 'no delimiter' "No headers delimiter found on line number 2: 'no delimiter'"
herr "no key separator" 'h:1\tno key' "No key separator found on line number 2: 'h:1	no key'"
herr "pair without separator" 'h:1,bad\tk\tv' \
  "No header key separator found in pair 'bad' on line number 2"
herr "empty headers" '\tk\tv' "No header key separator found in pair '' on line number 2"
herr "empty pair" 'a:1,,b:2\tk\tv' "No header key separator found in pair '' on line number 2"
herr "header name is null.marker" '~:1\tk\tv' \
  "Header keys should not be equal to the null marker '~' as they can't be null" \
  --property null.marker='~'
herr "header name is null.marker, even with ignore.error" '~:1\tk\tv' \
  "Header keys should not be equal to the null marker '~' as they can't be null" \
  --property null.marker='~' --property ignore.error=true

# ignore.error=true: Kafka's best effort instead of the error
printf '%b\n' 'no delimiter' 'h:1\tno key' 'bad,h:2\tk\tv' 'a:1\tk\tlast' | console --topic hdrign \
  --property parse.headers=true --property parse.key=true --property ignore.error=true \
  >/dev/null 2>"$T/hign.err"
check "ignore.error=true: malformed lines are sent, exit 0" '[ $? = 0 ] && [ ! -s "$T/hign.err" ]'
printf '%b\n' '-1||12|no delimiter|' '-1||6|no key|h=1' '1|k|1|v|bad=NULL,h=2' '1|k|4|last|a=1' \
  | sort >"$T/hign.want"
check "ignore.error=true: no delimiter: no headers; no key separator: null key; pair: null value" \
  'consume_h hdrign | diff "$T/hign.want" -'

# properties Kafka refuses together: usage error (2) with Kafka's words
hconf() { # EXPECTED-MESSAGE properties...
  local msg=$1; shift
  echo x | console --topic hdr "$@" >/dev/null 2>"$T/hconf.err"
  local rc=$?
  check "headers properties: '$msg' (exit 2)" '[ $rc = 2 ] && grep -qF "$msg" "$T/hconf.err"'
}
hconf "headers.delimiter and headers.separator may not be equal" --property headers.delimiter=,
hconf "headers.delimiter and headers.key.separator may not be equal" --property headers.delimiter=:
hconf "headers.separator and headers.key.separator may not be equal" \
  --property headers.key.separator=,
hconf "null.marker and key.separator may not be equal" --property "null.marker=	"
hconf "null.marker and headers.separator may not be equal" --property null.marker=,
hconf "null.marker and headers.key.separator may not be equal" --property null.marker=:
hconf "headers.separator '(' is not a valid regular expression" --property 'headers.separator=('
hconf "parse.headers must be true or false" --property parse.headers=yes

# ---- kprod-console: SIGINT/SIGTERM and a closed stdin ----
# As Kafka's tool (a shutdown hook closes the producer): a signal stops the
# reading, the producer is closed with a bounded wait (--close-timeout-ms),
# every line read and not acknowledged is reported on stderr ("error: line
# N: ..."), then a summary "interrupted by SIG...: N lines read, A records
# acknowledged[, K not ...]". Exit 0 only if every line read was
# acknowledged, else 128+signal. Each line's value is its number.

# console_bg INPUT ERR [options...]: kprod-console in the background. A
# shell's background job starts with SIGINT ignored (and kprod-console keeps
# an ignored signal ignored, as nohup wants): env gives it the default back.
console_bg() {
  local in=$1 err=$2; shift 2
  env --default-signal "$B/tools/kprod-console" "$@" <"$in" >/dev/null 2>"$err" &
  CONSOLE_PID=$!
}
# console_fifo TOPIC ERR [options...]: console_bg reading the fifo $T/in,
# which this shell holds open for writing on fd 5
console_fifo() {
  local topic=$1 err=$2; shift 2
  rm -f "$T/in"; mkfifo "$T/in"
  console_bg "$T/in" "$err" --topic "$topic" "$@"
  exec 5>"$T/in"
}
# stop_console SIGNAL: signal kprod-console and wait for it, with the input
# still open; sets rc and ms (how long it took to exit). A tool that does
# not exit within 60 s is killed (rc 137), so that a failure cannot hang.
stop_console() {
  local t0; t0=$(date +%s%N)
  kill -"$1" "$CONSOLE_PID" 2>/dev/null
  wait_for 'exited "$CONSOLE_PID"' || kill -KILL "$CONSOLE_PID"
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  wait "$CONSOLE_PID"; rc=$?; CONSOLE_PID=
  exec 5>&-
}
# sig_accounted NAME ERR GOT SIG CODE KNOWN: GOT holds the values delivered.
# The summary gives N lines read (at least KNOWN, the lines the test knows
# were read); each of lines 1..N is delivered or reported, none after N is
# delivered, none twice; the summary counts as not acknowledged the lines
# reported; exit 0 exactly when nothing was reported, else CODE. Sets n.
sig_accounted() {
  local name=$1 err=$2 got=$3 sig=$4 code=$5 known=$6 acked nrep
  n=$(sed -nE "s/^kprod-console: interrupted by $sig: ([0-9]+) lines read, .*/\1/p" "$err")
  acked=$(sed -nE "s/^kprod-console: interrupted by $sig: [0-9]+ lines read, ([0-9]+) .*/\1/p" "$err")
  check "$name: stderr ends with the summary, at least $known lines read" \
    '[ -n "$n" ] && [ "$n" -ge "$known" ] && tail -1 "$err" | grep -q "^kprod-console: interrupted by $sig: "'
  [ -n "$n" ] && [ "$n" -ge "$known" ] || n=$known
  sed -nE 's/^error: line ([0-9]+): .*/\1/p' "$err" | sort -u >"$T/reported"
  nrep=$(wc -l <"$T/reported")
  check "$name: every line read ($n) is delivered or reported on stderr" \
    '[ -z "$(seq 1 "$n" | sort | comm -23 - <(sort -u "$got" "$T/reported"))" ]'
  check "$name: no line after the last read is delivered, none twice" \
    '[ -z "$(awk -v n="$n" "\$1 > n" "$got")" ] && [ -z "$(sort "$got" | uniq -d)" ]'
  check "$name: the summary counts the $nrep lines reported as not acknowledged" \
    '[ "$acked" = $((n - nrep)) ]'
  if [ "$nrep" = 0 ] && ! grep -q "cut short" "$err"; then
    check "$name: nothing lost: exit 0 (exit $rc)" '[ $rc = 0 ]'
  else
    check "$name: records not acknowledged: exit $code (exit $rc)" '[ $rc = $code ]'
  fi
}

# SIGINT with the cluster up, while a writer still feeds the pipe (one
# write per line: no line is ever half in the pipe): what was read is
# delivered, exit 0
console_fifo sigint "$T/sigint.err" --bootstrap-server "$BOOT"
stdbuf -oL seq 1 6000 >&5 2>/dev/null &
WRITER=$!
wait_for 'exited "$CONSOLE_PID" || [ "$(consume sigint | wc -l)" -ge 500 ]'
stop_console INT
kill "$WRITER" 2>/dev/null; wait "$WRITER" 2>/dev/null
consume sigint | cut -f3 >"$T/sigint.got"
sig_accounted "SIGINT mid-input" "$T/sigint.err" "$T/sigint.got" SIGINT 130 500
check "SIGINT mid-input, cluster up: all $n lines read delivered, no error reported" \
  '[ "$(wc -l <"$T/sigint.got")" = "$n" ] && ! grep -q "^error" "$T/sigint.err"'
[ $rc = 0 ] || cat "$T/sigint.err"

# SIGTERM with everything delivered and the pipe still open (the tool waits
# in poll()): exit 0 and the summary
console_fifo sigterm "$T/sigterm.err" --bootstrap-server "$BOOT"
seq 1 3000 >&5 # fits in the pipe
wait_for 'exited "$CONSOLE_PID" || [ "$(consume sigterm | wc -l)" = 3000 ]'
stop_console TERM
consume sigterm | cut -f3 >"$T/sigterm.got"
sig_accounted "SIGTERM, input idle" "$T/sigterm.err" "$T/sigterm.got" SIGTERM 143 3000
check "SIGTERM, input idle: 3000 lines read, 3000 acknowledged" \
  'grep -qx "kprod-console: interrupted by SIGTERM: 3000 lines read, 3000 records acknowledged" "$T/sigterm.err"'

# A frozen cluster (SIGSTOP) holds records the tool accepted: the close
# waits --close-timeout-ms, then each is reported (_PURGED_CLOSE), exit 130
"$B/tools/kprod-mock" --brokers 1 --topic frozen:2 >"$T/out2" 2>"$T/mock2.err" &
MOCK2_PID=$!
wait_for '[ -s "$T/out2" ]'
BOOT2=$(head -1 "$T/out2")
console_fifo frozen "$T/frozen.err" --bootstrap-server "$BOOT2" --close-timeout-ms 2000
seq 1 100 >&5
wait_for 'exited "$CONSOLE_PID" || [ "$(kcat -C -b "$BOOT2" -t frozen -e -q 2>/dev/null | wc -l)" = 100 ]'
kill -STOP "$MOCK2_PID"
# lines 101-200, then line 201 over max.request.size: its at-once failure
# on stderr shows that lines 1-201 were read
seq 101 200 >&5
(head -c 1100000 /dev/zero | tr '\0' x; echo) >&5 # a subshell: SIGPIPE must not end the test
wait_for 'exited "$CONSOLE_PID" || grep -q "^error: line 201: .*_RECORD_TOO_LARGE" "$T/frozen.err"'
stop_console INT
kill -CONT "$MOCK2_PID"
check "frozen cluster: exits within the close timeout (2 s; took $ms ms)" '[ "$ms" -lt 6000 ]'
kcat -C -b "$BOOT2" -t frozen -e -q -f '%s\n' 2>/dev/null >"$T/frozen.got"
sig_accounted "frozen cluster" "$T/frozen.err" "$T/frozen.got" SIGINT 130 201
check "frozen cluster: the records left at the close are reported as _PURGED_CLOSE" \
  'grep -qE "^error: line (1[0-9][0-9]|200): [0-9]+: _PURGED_CLOSE" "$T/frozen.err"'
kill -TERM "$MOCK2_PID"; wait "$MOCK2_PID"; MOCK2_PID=

# Unreachable cluster: the first send waits for metadata (max.block.ms,
# 60 s); the signal ends it: every line read is reported, exit 143, quickly
seq 1 50 >"$T/unreach.in"
console_bg "$T/unreach.in" "$T/unreach.err" --bootstrap-server 127.0.0.1:1 --topic t \
  --close-timeout-ms 2000
# the whole file was read (its offset is at the end)
wait_for 'exited "$CONSOLE_PID" ||
  grep -qsx "pos:[[:space:]]*$(wc -c <"$T/unreach.in")" "/proc/$CONSOLE_PID/fdinfo/0"'
exec 5>/dev/null
stop_console TERM
check "unreachable cluster: SIGTERM ends the wait at once (took $ms ms)" '[ "$ms" -lt 4000 ]'
: >"$T/unreach.got"
sig_accounted "unreachable cluster" "$T/unreach.err" "$T/unreach.got" SIGTERM 143 50
check "unreachable cluster: all 50 lines reported, 0 acknowledged" \
  'grep -q "interrupted by SIGTERM: 50 lines read, 0 records acknowledged, 50 not" "$T/unreach.err"'

# stdin closed: a clear message, exit 1, before any producer exists
console --topic console <&- >/dev/null 2>"$T/closed.err"
rc=$?
check "kprod-console <&-: says standard input is closed, exit 1 (exit $rc)" \
  '[ $rc = 1 ] && grep -q "standard input is closed" "$T/closed.err"'
[ $rc = 1 ] || cat "$T/closed.err"

if command -v valgrind >/dev/null; then
  vg() { valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    "$B/tools/kprod-console" --bootstrap-server "$BOOT" --topic vg "$@"; }
  # headers, keys, null markers, and a regex headers.separator
  seq 1 200 | awk '{ printf "i:%d;n:~,x:%d\tk%d\t%d\n", $1, $1 * 2, $1 % 7, $1 }' >"$T/vg.in"
  vg --property parse.headers=true --property parse.key=true --property null.marker='~' \
    --property 'headers.separator=[,;]' <"$T/vg.in" >/dev/null 2>"$T/vg.err"
  rc=$?
  check "kprod-console is valgrind-clean, with headers (exit $rc)" '[ $rc = 0 ]'
  [ $rc = 0 ] || tail -30 "$T/vg.err"
  check "valgrind run delivered 200 records, each with its 3 headers" \
    '[ "$(consume_h vg | grep -cE "^2\|k[0-6]\|[0-9]+\|([0-9]+)\|i=\1,n=NULL,x=[0-9]+$")" = 200 ]'
  # a parse error at line 150 ends the run: still no leak
  seq 1 200 | awk '{ if ($1 == 150) print "broken"; else printf "h:%d\t%d\n", $1, $1 }' \
    | vg --property parse.headers=true >/dev/null 2>"$T/vg2.err"
  rc=$?
  check "kprod-console stopping at a parse error is valgrind-clean (exit $rc)" '[ $rc = 1 ]'
  [ $rc = 1 ] || tail -30 "$T/vg2.err"
  check "...it delivered lines 1-149" '[ "$(consume vg | wc -l)" = 349 ]'
  # SIGINT with the pipe open (the closer thread, the self-pipe): no leak
  rm -f "$T/in"; mkfifo "$T/in"
  env --default-signal valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect "$B/tools/kprod-console" --bootstrap-server "$BOOT" \
    --topic vgsig <"$T/in" >/dev/null 2>"$T/vg3.err" &
  CONSOLE_PID=$!
  exec 5>"$T/in"
  seq 1 200 >&5
  wait_for 'exited "$CONSOLE_PID" || [ "$(consume vgsig | wc -l)" = 200 ]'
  stop_console INT
  check "kprod-console stopped by SIGINT is valgrind-clean, all 200 delivered (exit $rc)" \
    '[ $rc = 0 ] && grep -q "interrupted by SIGINT: 200 lines read, 200 records acknowledged" "$T/vg3.err"'
  [ $rc = 0 ] || tail -30 "$T/vg3.err"
  # transactions: the example (a commit, an abort with records failed) and
  # a short kprod-perf transactional run
  valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    "$B/examples/transactional_send" "$BOOT" >"$T/vgtxn.out" 2>&1
  rc=$?
  check "transactional_send is valgrind-clean (exit $rc)" '[ $rc = 0 ]'
  [ $rc = 0 ] || tail -30 "$T/vgtxn.out"
  valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    "$B/tools/kprod-perf" --topic vgtxn --num-records 1000 --record-size 100 --throughput 10000 \
    --transaction-duration-ms 30 --producer-props "bootstrap.servers=$BOOT" >"$T/vgperf.out" 2>"$T/vgperf.err"
  rc=$?
  check "kprod-perf transactional (a generated transactional id) is valgrind-clean (exit $rc)" \
    '[ $rc = 0 ] && grep -q "^1000 records sent" "$T/vgperf.out"'
  [ $rc = 0 ] || tail -30 "$T/vgperf.err"
fi

kill -TERM "$MOCK_PID"; wait "$MOCK_PID"; rc=$?; MOCK_PID=
check "kprod-mock exits 0 on SIGTERM" '[ $rc = 0 ]'
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
