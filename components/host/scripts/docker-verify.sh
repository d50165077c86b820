#!/usr/bin/env bash
# Read-only: `docker info` must show the pinned version, data-root, log driver and, on GPU hosts,
# the nvidia runtime.
set -euo pipefail
: "${DOCKER_VERSION:?}" "${DATA_ROOT:?}" "${LOG_DRIVER:?}" "${EXPECT_NVIDIA:?}" "${HOST_NAME:?}"
info=$(docker info --format '{{json .}}') || die "docker info failed; is the docker service running? (systemctl status docker)"
check() {
  local what="$1" want="$2" got
  got=$(jq -r "$3" <<<"$info")
  [ "$got" = "$want" ] || die "docker $what is '$got', expected '$want' (hosts.${HOST_NAME}.docker)"
}
check "server version" "$DOCKER_VERSION" '.ServerVersion'
check "data-root" "$DATA_ROOT" '.DockerRootDir'
check "log driver" "$LOG_DRIVER" '.LoggingDriver'
if [ "$EXPECT_NVIDIA" = true ]; then
  check "nvidia runtime" "present" 'if .Runtimes.nvidia then "present" else "missing" end'
fi
say "docker $DOCKER_VERSION ok: data-root $DATA_ROOT, log driver $LOG_DRIVER"
report "Docker verification"
