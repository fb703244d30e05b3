#!/bin/sh
# bench/run.sh BUILD_DIR — kprod against librdkafka 2.15.1, on one cluster, same settings.
#
#   make bench                 (builds, then runs this with BUILD_DIR=build)
#   sh bench/run.sh build      (BUILD_DIR must already hold the build)
#
# Starts one kprod-mock cluster (3 brokers; one topic of 6 partitions,
# replication 3, per scenario), then for every scenario runs kprod-perf and
# rdkafka_perf (bench/rdkafka_perf.c: the same harness on librdkafka 2.15.1,
# built by scripts/build-librdkafka.sh; the cluster is its mock, kprod-mock)
# alternately, BENCH_RUNS times each, and prints the medians of: records/s,
# MB/s, CPU µs per record (user+sys of the producer process alone, from
# wait4() in bench/rusage), peak RSS, the ratios kprod/librdkafka, and the
# allocations per record (bench/libkp_alloc_count.so, LD_PRELOADed: runs
# with N and 2N records, (A(2N) - A(N)) / N). Last comes a markdown table
# for the README.
#
# Scenarios (BENCH_SCENARIOS picks a subset; all of them by default):
#   b100 b1k b10k  100 B / 1 KB / 10 KB records, one thread
#   t4             100 B records, 4 application threads
#   cb             100 B records, a callback that reads the metadata
#   sync           100 B records, one at a time (linger.ms=0)
#   lat            100 B records at half librdkafka's b100 rate: latency
#   jdef           100 B records, batch.size=16384 (the Java default)
#   tls100 tls1k   as b100 / b1k, over TLS (below)
#   txn100         100 B records in transactions of 100 ms (below)
#   lz4 zstd       1 KB records of log-like text (below), compressed:
#                    lz4:  kprod compression.type=lz4 at its default level
#                          (9, which is LZ4's fast mode, as the Java
#                          client); librdkafka compression.codec=lz4 at its
#                          default compression.level (-1 = LZ4's fast mode;
#                          librdkafka's lz4 levels are 0..12, not Java's 1..17)
#                    zstd: kprod compression.type=zstd
#                          compression.zstd.level=3; librdkafka
#                          compression.codec=zstd compression.level=3 (both
#                          defaults, set explicitly)
# The other scenarios send slices of one buffer of random letters
# (--record-size); lz4 and zstd would find little in those that looks like
# real data, so they send text: $BENCH_TEXT_PAYLOADS JSON log lines of
# exactly 1024 bytes (timestamp, level, service, logger, thread, random
# trace and span ids, user id, HTTP method/path/status/duration, and a
# message of words drawn from a small vocabulary, common words more often),
# generated once per run with a fixed seed into a temp file and passed to
# both tools with --payload-file (one line per payload; each record takes
# one at random, the same sequence in both tools). The lz4 and zstd
# command-line tools shrink 1 MB of it about 2.4x (lz4 -1) and 3.8x (zstd -3).
#
# TLS (tls100, tls1k): the mock has no TLS, so a second kprod-mock cluster
# (same shape) has stunnel (Debian stunnel4: OpenSSL's server, one process,
# a service per broker) in front of each broker, and its brokers advertise
# stunnel's ports (kprod-mock --advertise), so both producers talk TLS to
# every broker. The certificates are made with the openssl CLI into the
# temp dir: a CA and a server certificate for IP:127.0.0.1 (P-256 keys).
# kprod: security.protocol=SSL ssl.truststore.type=PEM
# ssl.truststore.location=CA; librdkafka: security.protocol=ssl
# ssl.ca.location=CA; both check the host name (their default). Otherwise the
# same settings as b100 / b1k. What it measures: the producers' TLS cost
# (encryption and their own write path into OpenSSL) in CPU per record, which
# counts only the producer process; stunnel decrypts on the same cores, so
# records/s is also bounded by stunnel's and the mock's share of them (the
# per-run lines show stunnel's CPU per record too). The cipher suite both
# negotiated is printed (stunnel's log).
#
# Transactions (txn100): both producers transactional, with kafka-producer-
# perf-test's flags (--transactional-id bench-txn-TOOL
# --transaction-duration-ms 100: init_transactions before the clock starts,
# a commit once a transaction is 100 ms old, checked after each send; for
# librdkafka rd_kafka_init_transactions / begin / commit), and a third run
# per round, kprod-idem: kprod-perf with the same records and settings
# without transactions (idempotent), so the report gives kprod transactional
# as a % of kprod idempotent (issue 14's goal: at least 90 %) as well as the
# ratio against librdkafka transactional. enable.idempotence=true for all
# three whatever BENCH_IDEMPOTENCE says (transactions need it). The three
# runs of a round go in turn, the order reversed every other round.
#
# Where completions run (poll, batch; issue 16): kprod-perf --mode poll
# (completion.mode=queue, one thread of the tool waiting on
# kp_completion_fd() and running kp_poll) and --mode batch (a batch callback
# on the I/O thread), each with a third run per round, kprod-cb: kprod-perf
# --mode callback, the same records and settings, so the report gives each
# as a % of kprod's callback mode (goal: at least 90 %, at 0 allocations per
# record). librdkafka runs --mode callback (its own model: a thread polling
# for delivery reports). The round's order is reversed every other round.
#
# Environment:
#   BENCH_RUNS=3            runs per tool and scenario (medians are reported)
#   BENCH_IDEMPOTENCE=auto  true | false | auto (= true when kprod accepts
#                           enable.idempotence=true, false otherwise); the one
#                           switch for both producers
#   BENCH_LINGER_MS=5       linger.ms for both
#   BENCH_BATCH_SIZE=1000000  batch.size for both (bytes per partition batch;
#                           librdkafka's default, and what lets 10 KB records
#                           batch at all; the java-default scenario uses 16384)
#   BENCH_SCALE=1           multiplies every record count (0.1 for a smoke run)
#   BENCH_SCENARIOS="..."   a subset of: b100 b1k b10k t4 cb sync lat jdef lz4 zstd
#                           tls100 tls1k txn100 poll batch (all by default; TLS needs
#                           stunnel and openssl)
#   BENCH_TEXT_PAYLOADS=10000  distinct text payloads for lz4 and zstd
#   BENCH_TIMEOUT=300       seconds before a hung producer run is killed
set -eu

BUILD=${1:-build}
RUNS=${BENCH_RUNS:-3}
IDEMPOTENCE=${BENCH_IDEMPOTENCE:-auto}
LINGER=${BENCH_LINGER_MS:-5}
BATCH=${BENCH_BATCH_SIZE:-1000000}
BUFMEM=33554432
SCALE=${BENCH_SCALE:-1}
SCENARIOS=${BENCH_SCENARIOS:-b100 b1k b10k t4 cb sync lat jdef lz4 zstd tls100 tls1k txn100 poll batch}
TEXT_PAYLOADS=${BENCH_TEXT_PAYLOADS:-10000}
TIMEOUT=${BENCH_TIMEOUT:-300}
LAT_SECONDS=4

KPERF=$BUILD/tools/kprod-perf
RDPERF=$BUILD/bench/rdkafka_perf
RDVER=$BUILD/bench/rdkafka_version
MOCK=$BUILD/tools/kprod-mock
RUSAGE=$BUILD/bench/rusage
SHIM=$BUILD/bench/libkp_alloc_count.so

for f in "$KPERF" "$RDPERF" "$RDVER" "$MOCK" "$RUSAGE" "$SHIM"; do
    if [ ! -x "$f" ] && [ ! -f "$f" ]; then
        echo "bench: $f is missing; build first (make bench builds, then runs this)" >&2
        exit 1
    fi
done
case $RUNS in '' | *[!0-9]* | 0) echo "bench: BENCH_RUNS must be a positive integer" >&2; exit 2 ;; esac
case $IDEMPOTENCE in true | false | auto) ;; *) echo "bench: BENCH_IDEMPOTENCE: true, false or auto" >&2; exit 2 ;; esac
case $TEXT_PAYLOADS in '' | *[!0-9]* | 0) echo "bench: BENCH_TEXT_PAYLOADS must be a positive integer" >&2; exit 2 ;; esac
SHIM=$(cd "$(dirname "$SHIM")" && pwd)/$(basename "$SHIM") # LD_PRELOAD wants a path

case " $SCENARIOS " in
*" tls100 "* | *" tls1k "*)
    NEED_TLS=1
    for t in stunnel openssl ss; do
        if ! command -v $t >/dev/null 2>&1; then
            echo "bench: the TLS scenarios need $t (Debian: stunnel4, openssl, iproute2)" >&2
            exit 1
        fi
    done
    ;;
*) NEED_TLS= ;;
esac

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kprod-bench.XXXXXX")
MOCK_PID="" TLS_MOCK_PID="" STUNNEL_PID=""
cleanup() {
    for p in $STUNNEL_PID $TLS_MOCK_PID $MOCK_PID; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the cluster ---------------------------------------------------------
topics=
for s in $SCENARIOS; do topics="$topics --topic bench-$s:6"; done
# wait_boot PID FILE: until kprod-mock has printed its bootstrap list
wait_boot() {
    i=0
    while [ ! -s "$2" ]; do
        i=$((i + 1))
        if [ $i -gt 100 ] || ! kill -0 "$1" 2>/dev/null; then
            echo "bench: kprod-mock did not start:" >&2
            cat "$2.err" >&2
            exit 1
        fi
        sleep 0.1
    done
}
# shellcheck disable=SC2086
"$MOCK" --brokers 3 --topic bench-probe:6 $topics >"$TMP/boot" 2>"$TMP/boot.err" &
MOCK_PID=$!
wait_boot "$MOCK_PID" "$TMP/boot"
BOOT=$(head -n 1 "$TMP/boot")

# ---- the TLS cluster: stunnel in front of a second kprod-mock --------------------
TLS_BOOT="" PKI=$TMP/pki
if [ -n "$NEED_TLS" ]; then
    mkdir "$PKI"
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >"$PKI/ext"
    if ! { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj /CN=kprod-bench-ca -keyout "$PKI/ca.key" -out "$PKI/ca.pem" &&
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -subj /CN=127.0.0.1 -keyout "$PKI/server.key" -out "$PKI/server.csr" &&
        openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" \
            -CAcreateserial -days 2 -extfile "$PKI/ext" -out "$PKI/server.pem"; } >"$PKI/log" 2>&1; then
        echo "bench: cannot make the certificates:" >&2
        cat "$PKI/log" >&2
        exit 1
    fi
    # three ports nobody listens on, for stunnel (the brokers must advertise
    # them from the start); stunnel not listening on one is caught below
    tls_ports=
    p=$((20000 + $$ % 20000))
    while [ "$(echo "$tls_ports" | wc -w)" -lt 3 ]; do
        p=$((p + 1))
        [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] && tls_ports="$tls_ports $p"
    done
    adv="" b=0
    for p in $tls_ports; do
        b=$((b + 1))
        adv="$adv --advertise $b:127.0.0.1:$p"
    done
    # shellcheck disable=SC2086
    "$MOCK" --brokers 3 --topic bench-probe:6 $topics $adv >"$TMP/tlsboot" 2>"$TMP/tlsboot.err" &
    TLS_MOCK_PID=$!
    wait_boot "$TLS_MOCK_PID" "$TMP/tlsboot"
    # the brokers' own listeners, in broker order (what stunnel connects to)
    mock_ports=$(head -n 1 "$TMP/tlsboot" | tr ',' '\n' | sed 's/.*://')
    {
        printf 'foreground = yes\npid =\nsyslog = no\ndebug = 6\noutput = %s\n' "$TMP/stunnel.log"
        printf 'socket = l:TCP_NODELAY=1\nsocket = r:TCP_NODELAY=1\n'
        # shellcheck disable=SC2086
        set -- $mock_ports
        b=0
        for p in $tls_ports; do
            b=$((b + 1))
            printf '[broker%d]\naccept = 127.0.0.1:%s\nconnect = 127.0.0.1:%s\n' "$b" "$p" "$1"
            printf 'cert = %s\nkey = %s\n' "$PKI/server.pem" "$PKI/server.key"
            shift
        done
    } >"$TMP/stunnel.conf"
    stunnel "$TMP/stunnel.conf" </dev/null >"$TMP/stunnel.out" 2>&1 &
    STUNNEL_PID=$!
    for p in $tls_ports; do
        i=0
        until [ -n "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; do
            i=$((i + 1))
            if [ $i -gt 100 ] || ! kill -0 "$STUNNEL_PID" 2>/dev/null; then
                echo "bench: stunnel does not listen on $p:" >&2
                cat "$TMP/stunnel.out" "$TMP/stunnel.log" >&2 2>/dev/null
                exit 1
            fi
            sleep 0.1
        done
    done
    TLS_BOOT=$(for p in $tls_ports; do printf '127.0.0.1:%s,' "$p"; done | sed 's/,$//')
fi
# stunnel's CPU time so far, µs (utime + stime of /proc/PID/stat, in clock ticks)
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
stunnel_cpu_us() {
    if [ -n "$STUNNEL_PID" ] && [ -r "/proc/$STUNNEL_PID/stat" ]; then
        sed 's/.*) //' "/proc/$STUNNEL_PID/stat" | awk -v t="$CLK_TCK" '{ printf "%.0f\n", ($12 + $13) * 1000000 / t }'
    else
        echo nan
    fi
}

# ---- helpers ---------------------------------------------------------------
scaled() { awk -v n="$1" -v s="$SCALE" 'BEGIN { v = int(n * s); print (v < 1 ? 1 : v) }'; }
bin_of() { if [ "$1" = librdkafka ]; then echo "$RDPERF"; else echo "$KPERF"; fi; }
# the tools a scenario runs, in a round's order (kprod-idem: kprod-perf
# without transactions, for txn100's comparison with kprod's own idempotent
# producer)
scen_tools() {
    case $1 in
    txn100) echo "kprod librdkafka kprod-idem" ;;
    poll | batch) echo "kprod librdkafka kprod-cb" ;;
    *) echo "kprod librdkafka" ;;
    esac
}
# tool_opts SCEN TOOL: options for one tool in a scenario
tool_opts() {
    case $1:$2 in
    txn*:kprod | txn*:librdkafka) echo "--transactional-id bench-txn-$2 --transaction-duration-ms 100" ;;
    poll:kprod) echo "--mode poll" ;;
    batch:kprod) echo "--mode batch" ;;
    poll:* | batch:*) echo "--mode callback" ;; # librdkafka's own model; kprod-cb: kprod's default
    *) echo "" ;;
    esac
}

is_tls() { case $1 in tls*) return 0 ;; *) return 1 ;; esac; }
# props for a scenario: the common settings, then the scenario's own (later wins)
common_props() {
    if is_tls "$1"; then cp_boot=$TLS_BOOT; else cp_boot=$BOOT; fi
    echo "bootstrap.servers=$cp_boot acks=all enable.idempotence=$IDEM linger.ms=$LINGER batch.size=$BATCH buffer.memory=$BUFMEM"
}

# The scenario table: id, title, records, extra tool options, extra props.
scen_title() {
    case $1 in
    b100) echo "100 B records, 1 thread" ;;
    b1k) echo "1 KB records, 1 thread" ;;
    tls100) echo "100 B records, 1 thread, TLS (stunnel)" ;;
    tls1k) echo "1 KB records, 1 thread, TLS (stunnel)" ;;
    b10k) echo "10 KB records, 1 thread" ;;
    t4) echo "100 B records, 4 app threads" ;;
    cb) echo "100 B records, callback mode" ;;
    sync) echo "100 B records, sync mode (linger.ms=0)" ;;
    lat) echo "100 B records at ${LAT_RATE:-?} rec/s (half librdkafka's max)" ;;
    jdef) echo "100 B records, batch.size=16384 (Java default)" ;;
    lz4) echo "1 KB text records, lz4 (both at their default level: LZ4 fast mode)" ;;
    zstd) echo "1 KB text records, zstd level 3" ;;
    txn100) echo "100 B records, transactions of 100 ms (both transactional)" ;;
    poll) echo "100 B records, kprod completion.mode=queue polled by a thread (--mode poll)" ;;
    batch) echo "100 B records, kprod batch callback (--mode batch)" ;;
    *) return 1 ;;
    esac
}
scen_records() {
    case $1 in
    b100 | t4 | cb | tls100 | poll | batch) scaled 3000000 ;;
    txn100) scaled 6000000 ;;
    b1k | tls1k) scaled 600000 ;;
    lz4 | zstd) scaled 400000 ;;
    b10k) scaled 60000 ;;
    sync) scaled 5000 ;;
    lat) scaled $((LAT_RATE * LAT_SECONDS)) ;;
    jdef) scaled 2000000 ;;
    esac
}
scen_opts() {
    case $1 in
    b1k | tls1k) echo "--record-size 1024 --throughput -1" ;;
    b10k) echo "--record-size 10240 --throughput -1" ;;
    t4) echo "--record-size 100 --throughput -1 --threads 4" ;;
    cb) echo "--record-size 100 --throughput -1 --mode callback" ;;
    sync) echo "--record-size 100 --throughput -1 --mode sync" ;;
    lat) echo "--record-size 100 --throughput $LAT_RATE" ;;
    lz4 | zstd) echo "--payload-file $TEXT --throughput -1" ;;
    *) echo "--record-size 100 --throughput -1" ;;
    esac
}
# scen_props SCEN TOOL (compression has different property names in librdkafka)
scen_props() {
    case $1:$2 in
    sync:*) echo "linger.ms=0" ;; # a synchronous sender does not linger
    jdef:*) echo "batch.size=16384" ;;
    lz4:kprod) echo "compression.type=lz4" ;;                 # level 9 (default): LZ4 fast mode
    lz4:librdkafka) echo "compression.codec=lz4" ;;           # compression.level -1 (default): fast mode
    zstd:kprod) echo "compression.type=zstd compression.zstd.level=3" ;;
    zstd:librdkafka) echo "compression.codec=zstd compression.level=3" ;;
    tls*:kprod) echo "security.protocol=SSL ssl.truststore.type=PEM ssl.truststore.location=$PKI/ca.pem" ;;
    tls*:librdkafka) echo "security.protocol=ssl ssl.ca.location=$PKI/ca.pem" ;;
    txn*:*) echo "enable.idempotence=true" ;; # transactions need it; kprod-idem is the idempotent run
    *) echo "" ;;
    esac
}

metric() { awk -v k=":$1:" 'index($0, k) { v = $NF } END { print (v == "" ? "nan" : v) }' "$2"; }
ru_field() { sed -n "s/.*$1=\\([0-9]*\\).*/\\1/p" "$2"; }

FAILED=0
# run_one TOOL SCEN RUN: one measured run; appends a line to $TMP/results:
#   scen tool run records/s MB/s cpu_us/rec rss_MB p50_ms p99_ms p999_ms stunnel_cpu_us/rec
#   txn_commits
run_one() {
    ro_tool=$1 ro_scen=$2 ro_run=$3
    ro_n=$(scen_records "$ro_scen")
    ro_out=$TMP/out.$ro_scen.$ro_tool.$ro_run
    ro_st0=nan ro_log0=0
    if is_tls "$ro_scen"; then
        ro_st0=$(stunnel_cpu_us)
        ro_log0=$(wc -l <"$TMP/stunnel.log")
    fi
    # shellcheck disable=SC2046
    if "$RUSAGE" -t "$TIMEOUT" "$TMP/ru" "$(bin_of "$ro_tool")" --topic "bench-$ro_scen" \
        --num-records "$ro_n" $(scen_opts "$ro_scen") $(tool_opts "$ro_scen" "$ro_tool") --print-metrics \
        --producer-props $(common_props "$ro_scen") $(scen_props "$ro_scen" "$ro_tool") >"$ro_out" 2>"$ro_out.err"; then
        :
    else
        echo "bench: $ro_tool failed in scenario $ro_scen (run $ro_run):" >&2
        tail -n 5 "$ro_out" "$ro_out.err" >&2
        FAILED=1
        return 0
    fi
    ro_user=$(ru_field user_us "$TMP/ru")
    ro_sys=$(ru_field sys_us "$TMP/ru")
    ro_rss=$(ru_field maxrss_kb "$TMP/ru")
    ro_st1=nan
    if is_tls "$ro_scen"; then
        ro_st1=$(stunnel_cpu_us)
        # the cipher suites of this run's connections (stunnel logs them at debug 6)
        tail -n +$((ro_log0 + 1)) "$TMP/stunnel.log" |
            sed -n "s/.*\\(TLSv1[.0-9]*\\) ciphersuite: \\([A-Za-z0-9_-]*\\).*/$ro_tool \\1 \\2/p" >>"$TMP/ciphers"
    fi
    awk -v st0="$ro_st0" -v st1="$ro_st1" -v s="$ro_scen" -v t="$ro_tool" -v r="$ro_run" -v n="$ro_n" -v u="$ro_user" -v y="$ro_sys" -v m="$ro_rss" \
        -v rps="$(metric record-send-rate "$ro_out")" -v b="$(metric byte-total "$ro_out")" \
        -v e="$(metric elapsed-seconds "$ro_out")" -v p50="$(metric latency-p50-us "$ro_out")" \
        -v p99="$(metric latency-p99-us "$ro_out")" -v p999="$(metric latency-p999-us "$ro_out")" \
        -v txn="$(metric txn-commit-total "$ro_out")" \
        'BEGIN {
            printf "%s %s %s %.0f %.2f %.3f %.1f %.3f %.3f %.3f %s %s\n", s, t, r, rps,
                   (e > 0 ? b / e / 1048576 : 0), (u + y) / n, m / 1024,
                   p50 / 1000, p99 / 1000, p999 / 1000,
                   (st0 == "nan" || st1 == "nan" ? "nan" : sprintf("%.3f", (st1 - st0) / n)),
                   (txn == "nan" ? "nan" : sprintf("%.0f", txn))
        }' >>"$TMP/results"
    tail -n 1 "$TMP/results" | awk '{
        printf "    run %s  %-10s %12.0f rec/s %9.2f MB/s %8.3f us/rec CPU %7.1f MB RSS   p50 %.2f p99 %.2f p99.9 %.2f ms%s%s\n",
               $3, $2, $4, $5, $6, $7, $8, $9, $10,
               ($11 == "nan" ? "" : sprintf("   stunnel %.3f us/rec CPU", $11)),
               ($12 == "nan" ? "" : sprintf("   %s transactions committed", $12)) }'
}

# median SCEN TOOL COLUMN (columns as in $TMP/results, 4 = records/s)
median() {
    awk -v s="$1" -v t="$2" '$1 == s && $2 == t { print $'"$3"' }' "$TMP/results" | sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "nan"; exit }
            if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# spread SCEN TOOL COLUMN: "min–max" of the runs
spread() {
    awk -v s="$1" -v t="$2" -v c="$3" '$1 == s && $2 == t && $c != "nan" {
            if (n == 0 || $c < lo) lo = $c
            if (n == 0 || $c > hi) hi = $c
            n++
        } END { if (n == 0) print "-"; else printf "%s–%s\n", lo, hi }' "$TMP/results"
}

# allocs_per_record TOOL SCEN: runs with N and 2N records under the shim.
allocs_per_record() {
    ap_tool=$1 ap_scen=$2
    ap_n=$(scen_records "$ap_scen")
    [ "$ap_n" -gt 100000 ] && ap_n=100000
    [ "$ap_scen" = lat ] && ap_n=$((LAT_RATE / 2))
    [ "$ap_n" -lt 1000 ] && ap_n=1000
    for k in 1 2; do
        # shellcheck disable=SC2046
        # env, not rusage, between timeout and the producer: only the
        # producer may have the shim (each process writes the file at exit)
        if ! timeout "$TIMEOUT" env ALLOC_COUNT_OUT="$TMP/alloc.$k" LD_PRELOAD="$SHIM" \
            "$(bin_of "$ap_tool")" --topic "bench-$ap_scen" --num-records $((ap_n * k)) $(scen_opts "$ap_scen") \
            $(tool_opts "$ap_scen" "$ap_tool") --producer-props $(common_props "$ap_scen") $(scen_props "$ap_scen" "$ap_tool") >/dev/null 2>"$TMP/alloc.err"; then
            echo "nan"
            return 0
        fi
    done
    a1=$(sed -n 's/^allocs=\([0-9]*\).*/\1/p' "$TMP/alloc.1")
    a2=$(sed -n 's/^allocs=\([0-9]*\).*/\1/p' "$TMP/alloc.2")
    awk -v a="$a1" -v b="$a2" -v n="$ap_n" 'BEGIN { v = (b - a) / n; printf "%.3f\n", (v < 0 ? 0 : v) }'
}

# gen_text_payloads FILE COUNT SIZE: COUNT lines of log-like JSON text, each
# exactly SIZE bytes (newline excluded), the same every run (fixed seed).
gen_text_payloads() {
    awk -v n="$2" -v size="$3" 'BEGIN {
        srand(20240514)
        nw = split("the a to of and in for is on with request order user session cache " \
            "connection timeout retry failed completed started received sent processing " \
            "payment invoice customer account item items cart checkout shipping address " \
            "database query rows updated inserted deleted took ms slow upstream downstream " \
            "service handler worker queue message batch partition offset commit consumer " \
            "producer broker topic leader replica sync async token expired refreshed valid " \
            "invalid header body response status error warning debug because after before " \
            "while during from by at not no new old total count limit rate exceeded " \
            "scheduled job task thread pool size memory heap gc pause config loaded value " \
            "key id name path file read write open closed lock acquired released", w, " ")
        nl = split("DEBUG INFO INFO INFO INFO INFO INFO WARN WARN ERROR", lv, " ")
        ns = split("checkout-api order-service payment-gateway inventory user-profile " \
            "shipping-worker notification-svc search-indexer", sv, " ")
        nm = split("GET GET GET GET POST POST PUT DELETE", mv, " ")
        np = split("orders orders/{id} orders/{id}/items carts/{id} users/{id} " \
            "payments products/{id} search sessions inventory/{id}", pv, " ")
        nc = split("200 200 200 200 200 201 204 400 404 500 503", cv, " ")
        nlg = split("OrderController PaymentService CartRepository UserSessionFilter " \
            "InventoryClient RetryTemplate KafkaEventPublisher HttpRequestLogger", lg, " ")
        ts = 1715677953
        for (i = 0; i < n; i++) {
            ts += rand() * 0.05
            sec = int(ts)
            svc = sv[1 + int(rand() * ns)]
            path = pv[1 + int(rand() * np)]
            gsub(/\{id\}/, int(rand() * 100000), path)
            line = sprintf("{\"@timestamp\":\"2024-05-14T%02d:%02d:%02d.%03dZ\",\"level\":\"%s\"," \
                "\"service\":\"%s\",\"host\":\"%s-%d\",\"logger\":\"com.example.%s.%s\"," \
                "\"thread\":\"http-nio-8080-exec-%d\",\"trace_id\":\"%s\",\"span_id\":\"%s\"," \
                "\"user_id\":%d,\"http\":{\"method\":\"%s\",\"path\":\"/api/v1/%s\",\"status\":%s," \
                "\"duration_ms\":%d},\"msg\":\"",
                int(sec / 3600) % 24, int(sec / 60) % 60, sec % 60, int((ts - sec) * 1000),
                lv[1 + int(rand() * nl)], svc, svc, int(rand() * 12), svc,
                lg[1 + int(rand() * nlg)], 1 + int(rand() * 200), hex(32), hex(16),
                int(rand() * 1000000), mv[1 + int(rand() * nm)], path, cv[1 + int(rand() * nc)],
                int(-log(1 - rand()) * 40))
            msg = ""
            while (length(line) + length(msg) < size) {
                # Zipf-like: the first words of the list far more often
                msg = msg (msg == "" ? "" : " ") w[1 + int(nw * rand() ^ 3)]
                if (rand() < 0.08) msg = msg " " int(rand() * 10000)
            }
            print substr(line msg, 1, size - 2) "\"}"
        }
    }
    function hex(k,   s, j) {
        s = ""
        for (j = 0; j < k; j++) s = s substr("0123456789abcdef", 1 + int(rand() * 16), 1)
        return s
    }' >"$1"
}
TEXT=$TMP/text-payloads.txt
case " $SCENARIOS " in
*" lz4 "* | *" zstd "*) gen_text_payloads "$TEXT" "$TEXT_PAYLOADS" 1024 ;;
esac

# ---- settings ------------------------------------------------------------------
if [ "$IDEMPOTENCE" = auto ]; then
    if "$KPERF" --topic bench-probe --num-records 10 --record-size 100 --throughput -1 \
        --producer-props "bootstrap.servers=$BOOT" enable.idempotence=true >/dev/null 2>"$TMP/probe.err"; then
        IDEM=true
    else
        IDEM=false
    fi
else
    IDEM=$IDEMPOTENCE
fi
# the librdkafka rdkafka_perf loads (2.15.1 from scripts/build-librdkafka.sh's
# cache, through the build tree's RUNPATH), not whatever pkg-config finds
RDK_VERSION=$("$RDVER" 2>/dev/null || echo unknown)
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
NCPU=$(nproc 2>/dev/null || echo '?')
KPROD_REV=$(git -C "$(dirname "$0")" describe --always --dirty 2>/dev/null || echo unknown)
loadavg() { cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo '?'; }
LOAD_START=$(loadavg)

echo "kprod ($KPROD_REV) vs librdkafka $RDK_VERSION on kprod-mock: 3 brokers, 6 partitions, replication 3"
echo "machine: $NCPU CPUs, ${CPU_MODEL:-unknown CPU}; cluster and producer share them"
echo "settings (both): acks=all enable.idempotence=$IDEM linger.ms=$LINGER batch.size=$BATCH buffer.memory=$BUFMEM (librdkafka: queue.buffering.max.kbytes=$((BUFMEM / 1024))), null keys, partitioner murmur2_random for librdkafka"
case " $SCENARIOS " in
*" lz4 "* | *" zstd "*)
    COMP_NOTE="lz4 and zstd scenarios: $TEXT_PAYLOADS distinct 1024-byte JSON log lines (--payload-file); lz4: kprod compression.type=lz4 (level 9, the default = LZ4 fast mode), librdkafka compression.codec=lz4 (compression.level -1, the default = LZ4 fast mode; its lz4 range is 0..12, not Java's 1..17); zstd: kprod compression.type=zstd compression.zstd.level=3, librdkafka compression.codec=zstd compression.level=3"
    echo "$COMP_NOTE"
    ;;
*) COMP_NOTE= ;;
esac
echo "runs: $RUNS per tool and scenario, alternating; medians reported"
echo "load average at start: $LOAD_START (other work on the machine skews records/s more than CPU/record)"
if [ "$IDEM" = false ]; then
    echo
    echo "NOTE: idempotence is OFF for both producers (enable.idempotence=false, acks=all)."
    if [ "$IDEMPOTENCE" = auto ]; then
        echo "      kprod refused enable.idempotence=true:"
        sed 's/^/        /' "$TMP/probe.err" | head -n 3
    fi
    echo "      The issue wants it on once kprod has it: BENCH_IDEMPOTENCE=true flips both."
fi
echo

# ---- scenarios ------------------------------------------------------------------
: >"$TMP/results"
: >"$TMP/allocs"
LAT_RATE=
for scen in $SCENARIOS; do
    if ! scen_title "$scen" >/dev/null; then
        echo "bench: unknown scenario '$scen'" >&2
        exit 2
    fi
    if [ "$scen" = lat ]; then
        # half of librdkafka's measured maximum on 100 B records
        max=$(median b100 librdkafka 4)
        if [ "$max" = nan ]; then
            run_one librdkafka b100 cal >/dev/null
            max=$(median b100 librdkafka 4)
        fi
        LAT_RATE=$(awk -v m="$max" 'BEGIN { printf "%d", (m > 0 ? m / 2 : 100000) }')
    fi
    echo "== $scen: $(scen_title "$scen"): $(scen_records "$scen") records x $RUNS runs"
    r=1
    while [ $r -le "$RUNS" ]; do
        # alternate which producer goes first (the order reversed every other round)
        order=$(scen_tools "$scen")
        [ $((r % 2)) -eq 0 ] && order=$(echo "$order" | awk '{ for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "\n") }')
        for tool in $order; do run_one "$tool" "$scen" "$r"; done
        r=$((r + 1))
    done
    ak=$(allocs_per_record kprod "$scen")
    ar=$(allocs_per_record librdkafka "$scen")
    echo "$scen $ak $ar" >>"$TMP/allocs"
    echo "    allocations per record: kprod $ak, librdkafka $ar"
done

# ---- the table -------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.2f", a / b }'; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "nan") print "-"; else printf f, v }'; }

echo
echo "load average at the end: $(loadavg)"
echo "Command: ${BENCH_SCENARIOS:+BENCH_SCENARIOS=\"$SCENARIOS\" }BENCH_RUNS=$RUNS BENCH_IDEMPOTENCE=$IDEMPOTENCE BENCH_LINGER_MS=$LINGER BENCH_BATCH_SIZE=$BATCH BENCH_SCALE=$SCALE make bench"
echo "Settings: acks=all, enable.idempotence=$IDEM, linger.ms=$LINGER, batch.size=$BATCH, buffer.memory=$BUFMEM, null keys; kprod-mock 3 brokers, 6 partitions, replication 3; librdkafka $RDK_VERSION; $NCPU CPUs (${CPU_MODEL:-?}) shared with the cluster; medians of $RUNS runs. records/s and MB/s: acknowledged records from the first send to the end of the final flush; CPU (user+sys) and peak RSS: the whole producer process. Ratios are kprod / librdkafka.${COMP_NOTE:+ MB/s counts uncompressed record values. $COMP_NOTE.}"
echo
echo "| scenario | records/s kprod | records/s librdkafka | ratio | MB/s kprod | MB/s librdkafka | ratio | CPU µs/record kprod | CPU µs/record librdkafka | ratio | peak RSS MB kprod | peak RSS MB librdkafka | allocs/record kprod | allocs/record librdkafka |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for scen in $SCENARIOS; do
    kr=$(median "$scen" kprod 4) lr=$(median "$scen" librdkafka 4)
    km=$(median "$scen" kprod 5) lm=$(median "$scen" librdkafka 5)
    kc=$(median "$scen" kprod 6) lc=$(median "$scen" librdkafka 6)
    ks=$(median "$scen" kprod 7) ls=$(median "$scen" librdkafka 7)
    ak=$(awk -v s="$scen" '$1 == s { print $2 }' "$TMP/allocs")
    ar=$(awk -v s="$scen" '$1 == s { print $3 }' "$TMP/allocs")
    printf '| %s | %s | %s | %s× | %s | %s | %s× | %s | %s | %s× | %s | %s | %s | %s |\n' \
        "$(scen_title "$scen")" "$(fmt "$kr" %.0f)" "$(fmt "$lr" %.0f)" "$(ratio "$kr" "$lr")" \
        "$(fmt "$km" %.1f)" "$(fmt "$lm" %.1f)" "$(ratio "$km" "$lm")" \
        "$(fmt "$kc" %.3f)" "$(fmt "$lc" %.3f)" "$(ratio "$kc" "$lc")" \
        "$(fmt "$ks" %.1f)" "$(fmt "$ls" %.1f)" "$(fmt "${ak:-nan}" %.3f)" "$(fmt "${ar:-nan}" %.3f)"
done
case " $SCENARIOS " in
*" lat "*)
    echo
    echo "Latency (send call to acknowledgement) at $LAT_RATE records/s, 100 B records, ms:"
    echo
    echo "| percentile | kprod | librdkafka | ratio |"
    echo "|---|---:|---:|---:|"
    for p in p50:8 p99:9 p99.9:10; do
        col=${p#*:}
        k=$(median lat kprod "$col") l=$(median lat librdkafka "$col")
        printf '| %s | %s | %s | %s× |\n' "${p%%:*}" "$(fmt "$k" %.2f)" "$(fmt "$l" %.2f)" "$(ratio "$k" "$l")"
    done
    ;;
esac
case " $SCENARIOS " in
*" txn100 "*)
    kt=$(median txn100 kprod 4) ki=$(median txn100 kprod-idem 4) lt=$(median txn100 librdkafka 4)
    echo
    echo "Transactions (txn100): 100 B records, a commit every 100 ms (--transaction-duration-ms 100), records/s and CPU medians (min–max of the runs):"
    echo
    echo "| producer | records/s | CPU µs/record | transactions committed per run |"
    echo "|---|---:|---:|---:|"
    for tl in "kprod:kprod transactional" "kprod-idem:kprod idempotent (same run, no transactions)" "librdkafka:librdkafka transactional"; do
        t=${tl%%:*}
        printf '| %s | %s (%s) | %s (%s) | %s |\n' "${tl#*:}" "$(fmt "$(median txn100 "$t" 4)" %.0f)" "$(spread txn100 "$t" 4)" \
            "$(fmt "$(median txn100 "$t" 6)" %.3f)" "$(spread txn100 "$t" 6)" "$(fmt "$(median txn100 "$t" 12)" %.0f)"
    done
    echo
    echo "kprod transactional / kprod idempotent: $(awk -v a="$kt" -v b="$ki" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.1f %%", 100 * a / b }') of the records/s (goal: at least 90 %)"
    echo "kprod transactional / librdkafka transactional: $(ratio "$kt" "$lt")× the records/s, $(ratio "$(median txn100 kprod 6)" "$(median txn100 librdkafka 6)")× the CPU per record"
    ;;
esac
for cs in poll batch; do
    case " $SCENARIOS " in
    *" $cs "*)
        km=$(median $cs kprod 4) kc=$(median $cs kprod-cb 4)
        echo
        echo "Where completions run ($cs): $(scen_title $cs), records/s and CPU medians (min–max of the runs):"
        echo
        echo "| producer | records/s | CPU µs/record |"
        echo "|---|---:|---:|"
        for tl in "kprod:kprod --mode $cs" "kprod-cb:kprod --mode callback (same rounds)" "librdkafka:librdkafka --mode callback"; do
            t=${tl%%:*}
            printf '| %s | %s (%s) | %s (%s) |\n' "${tl#*:}" "$(fmt "$(median $cs "$t" 4)" %.0f)" "$(spread $cs "$t" 4)" \
                "$(fmt "$(median $cs "$t" 6)" %.3f)" "$(spread $cs "$t" 6)"
        done
        echo
        echo "kprod --mode $cs / kprod --mode callback: $(awk -v a="$km" -v b="$kc" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "-"; else printf "%.1f %%", 100 * a / b }') of the records/s (goal: at least 90 %), allocations per record $(awk -v s=$cs '$1 == s { print $2 }' "$TMP/allocs")"
        ;;
    esac
done
cipher_of() { awk -v t="$1" '$1 == t { print $2 " " $3 }' "$TMP/ciphers" 2>/dev/null | sort -u | paste -sd '/' -; }
tls_scens=
for scen in $SCENARIOS; do is_tls "$scen" && tls_scens="$tls_scens $scen"; done
if [ -n "$tls_scens" ]; then
    echo
    echo "TLS: stunnel $(stunnel -version 2>&1 | sed -n 's/^stunnel \([0-9.]*\).*/\1/p' | head -n 1) in front of each broker, on the same cores;" \
        "negotiated (stunnel's log): kprod $(cipher_of kprod), librdkafka $(cipher_of librdkafka)."
    echo "stunnel's CPU (user+sys of its process during each run) per record, medians:"
    echo
    echo "| scenario | stunnel CPU µs/record with kprod | with librdkafka | ratio |"
    echo "|---|---:|---:|---:|"
    for scen in $tls_scens; do
        k=$(median "$scen" kprod 11) l=$(median "$scen" librdkafka 11)
        printf '| %s | %s | %s | %s× |\n' "$(scen_title "$scen")" "$(fmt "$k" %.3f)" "$(fmt "$l" %.3f)" "$(ratio "$k" "$l")"
    done
fi
if [ "$IDEM" = false ]; then
    echo
    echo "(idempotence off for both: see the note at the top)"
fi
if [ "$FAILED" -ne 0 ]; then
    echo
    echo "bench: some runs failed (see above); their figures are missing from the medians" >&2
    exit 1
fi
