#!/bin/sh
# run.sh — `make fuzz`'s driver: runs each libFuzzer target of a fuzz build
# for a set time, one after another (one process each), then minimises its
# corpus and prints the executions per target.
#
#   sh tests/fuzz/run.sh <fuzz build dir> <seconds per target> [target...]
#
# Each target fuzzes with three corpus directories: <build>/new/<target>
# (where new inputs go), the saved corpus tests/fuzz/corpus/<target>/ and
# the seeds gen_seeds writes into <build>/seeds/<target>. Afterwards
# `-merge=1` picks the smallest set of those inputs with the same coverage
# and it replaces the saved corpus (commit it to keep the gain; `make test`
# replays it). A crash, leak, timeout or out-of-memory stops that target's
# run; the input is saved as <build>/crashes/<target>/<kind>-<sha1>, never
# into the corpus. Extra libFuzzer flags: FUZZ_FLAGS (e.g. -max_len=8192).
# Exit status: 0 when no target found anything.
set -u
B=${1:?usage: run.sh <fuzz build dir> <seconds per target> [target...]}
SECS=${2:?usage: run.sh <fuzz build dir> <seconds per target> [target...]}
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
B=$(cd "$B" && pwd)
TARGETS=${*:-$(cat "$B/targets.txt")}

rm -rf "$B/seeds"
"$B/gen_seeds" "$B/seeds" || { echo "gen_seeds failed" >&2; exit 1; }

found=0
summary=""
for t in $TARGETS; do
    corpus=$HERE/corpus/$t
    new=$B/new/$t
    min=$B/min/$t
    art=$B/crashes/$t
    mkdir -p "$corpus" "$new" "$art" "$B/seeds/$t"
    before=$(ls "$art" | wc -l)
    dict=
    [ -f "$B/seeds/$t.dict" ] && dict=-dict=$B/seeds/$t.dict
    echo "== $t: fuzzing for ${SECS}s (log: $B/$t.log)"
    # shellcheck disable=SC2086
    "$B/$t" -max_total_time="$SECS" -print_final_stats=1 -artifact_prefix="$art/" $dict \
        ${FUZZ_FLAGS:-} "$new" "$corpus" "$B/seeds/$t" >"$B/$t.log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$B/$t.log" | tail -n 1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$B/$t.log" | tail -n 1)
    crashes=$(( $(ls "$art" | wc -l) - before ))
    if [ "$rc" -ne 0 ]; then
        found=1
        [ "$crashes" -gt 0 ] || crashes="?"
        grep -E "^(==[0-9]+==ERROR|SUMMARY|.*fuzz invariant failed|.*runtime error)" "$B/$t.log" | head -n 5
    fi

    # the smallest set of saved + new + seed inputs with the same coverage
    rm -rf "$min"
    mkdir -p "$min"
    if "$B/$t" -merge=1 "$min" "$corpus" "$new" "$B/seeds/$t" >"$B/$t.merge.log" 2>&1 &&
        [ -n "$(ls "$min")" ]; then
        find "$corpus" -maxdepth 1 -type f -delete
        cp "$min"/* "$corpus"/
        rm -rf "$new"
    else
        echo "   merge failed (see $B/$t.merge.log); corpus left as it was"
        found=1
    fi
    files=$(ls "$corpus" | wc -l)
    kb=$(( ($(cat "$corpus"/* | wc -c) + 1023) / 1024 ))
    line=$(printf '%-20s %12s executions in %5ss   %s crash(es)   corpus %4s files %5s KB' \
        "$t" "${execs:-?}" "${secs:-?}" "$crashes" "$files" "$kb")
    echo "   $line"
    summary="$summary$line
"
done
echo
echo "== fuzz summary (FUZZ_SECONDS=$SECS)"
printf '%s' "$summary"
if [ "$found" -ne 0 ]; then
    echo "findings: see $B/crashes/ and the logs in $B/" >&2
fi
exit "$found"
