#!/usr/bin/env bats
# Unit tests for the helpers every host script includes (components/remote/prelude.sh).

setup() {
  # The test's own directory, which bats makes empty for each test and removes after it, also when
  # the test fails (a mktemp -d here was never removed: one tmp.* per test, every run).
  CITADEL_ROOT="$BATS_TEST_TMPDIR"
  export CITADEL_ROOT
  # shellcheck disable=SC1091 # the prelude is sourced from the repo at test time
  source "$BATS_TEST_DIRNAME/../components/remote/prelude.sh"
  # The prelude turns on nounset and pipefail, which bats itself does not expect; errexit stays on,
  # because bats fails a test on its first failing command only while it is on.
  set +u +o pipefail
}

@test "write_file writes new content atomically with the mode and returns 0" {
  run bash -c "source '$BATS_TEST_DIRNAME/../components/remote/prelude.sh'; printf 'a\n' | write_file '$CITADEL_ROOT/etc/x.conf' 0600"
  [ "$status" -eq 0 ]
  [ "$(cat "$CITADEL_ROOT/etc/x.conf")" = "a" ]
  [ "$(stat -c %a "$CITADEL_ROOT/etc/x.conf")" = "600" ]
  [ -z "$(find "$CITADEL_ROOT/etc" -name '*.citadel.*')" ]
}

@test "write_file leaves identical content alone and returns 1" {
  printf 'a\n' >"$CITADEL_ROOT/x.conf"
  touch -d '2020-01-01' "$CITADEL_ROOT/x.conf"
  run bash -c "source '$BATS_TEST_DIRNAME/../components/remote/prelude.sh'; printf 'a\n' | write_file '$CITADEL_ROOT/x.conf' 0644"
  [ "$status" -eq 1 ]
  [ "$(stat -c %Y "$CITADEL_ROOT/x.conf")" = "$(date -d 2020-01-01 +%s)" ]
}

@test "report says 'no changes' when nothing changed and counts changes otherwise" {
  run report "thing"
  [ "$output" = "no changes: thing already converged" ]
  changed "one" >/dev/null
  changed "two" >/dev/null
  run report "thing"
  [ "$output" = "done: thing (2 changes)" ]
}

@test "die prints to stderr and exits non-zero" {
  run bash -c "source '$BATS_TEST_DIRNAME/../components/remote/prelude.sh'; die 'disk is busy'; echo unreachable"
  [ "$status" -eq 1 ]
  [ "$output" = "error: disk is busy" ]
}

@test "pkg_version prints nothing, without failing, for a package that is not installed" {
  run bash -c "set -euo pipefail; source '$BATS_TEST_DIRNAME/../components/remote/prelude.sh'; v=\$(pkg_version citadel-no-such-package); echo \"[\$v]\""
  [ "$status" -eq 0 ]
  [ "$output" = "[]" ]
}

@test "apt_lock takes the host-wide lock once and a second holder waits" {
  prelude="$BATS_TEST_DIRNAME/../components/remote/prelude.sh"
  run bash -c "source '$prelude'; apt_lock; apt_lock; echo locked"
  [ "$output" = "locked" ]
  [ -f "$CITADEL_ROOT/run/lock/citadel-apt.lock" ]
  # A first step takes the lock through apt_lock and keeps it while it sleeps.
  ready="$CITADEL_ROOT/holder-ready"
  bash -c "source '$prelude'; apt_lock; touch '$ready'; sleep 30" 3>&- &
  holder=$!
  for _ in $(seq 100); do [ -e "$ready" ] && break; sleep 0.1; done
  [ -e "$ready" ]
  # A second step's apt_lock blocks in flock(2): the kernel lists it as a waiter ("->") on the
  # lock file's inode in /proc/locks (fs/locks.c, lock_get_status), and it has printed nothing.
  second_out="$CITADEL_ROOT/second-out"
  bash -c "source '$prelude'; apt_lock; echo second >'$second_out'" 3>&- &
  second=$!
  inode=$(stat -c %i "$CITADEL_ROOT/run/lock/citadel-apt.lock")
  for _ in $(seq 200); do grep -Eq -- "-> FLOCK .*:${inode} " /proc/locks && break; sleep 0.05; done
  grep -Eq -- "-> FLOCK .*:${inode} " /proc/locks
  [ ! -s "$second_out" ]
  # Once the holder is gone, the waiting step takes the lock and goes on.
  kill "$holder"
  wait "$holder" || true
  wait "$second"
  [ "$(cat "$second_out")" = "second" ]
}
