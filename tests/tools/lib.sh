# lib.sh — what the shell tests of tests/tools/ share; source it after
# setting T (a temp dir). ok/bad/check count and print results, wait_for
# polls a condition (every 0.1 s, at most 60 s), exited says our child has
# exited (a zombie not yet waited for). The caller prints "$pass passed,
# $fail failed" and exits with [ "$fail" = 0 ].
pass=0 fail=0
ok()   { pass=$((pass + 1)); echo "ok   $1"; }
bad()  { fail=$((fail + 1)); echo "FAIL $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
wait_for() { local i; for i in $(seq 600); do eval "$1" && return 0; sleep 0.1; done; return 1; }
exited() {
  local st; st=$(sed -E 's/.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null)
  [ -z "$st" ] || [ "$st" = Z ]
}
# PIDS: children killed (TERM) and waited for, then T removed, at exit
# (KEEP=1 keeps T for a look).
PIDS=()
cleanup_pids() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
