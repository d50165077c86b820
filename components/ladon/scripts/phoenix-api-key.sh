#!/usr/bin/env bash
# A Phoenix system API key for a client (vLLM's traces), kept in a root-only file on the stack
# host and printed on a line of its own as PHOENIX_API_KEY=<key> for the program to hand on.
# A key that still works is reused; otherwise the admin logs in and creates one.
# Phoenix 20.26.1 (sdist): POST /auth/login {"email","password"} answers 204 with session
# cookies (server/api/routers/auth.py); POST /v1/system/api_keys {"data":{"name"}} with that
# session answers 201 with data.key (server/api/routers/v1/api_keys.py); GET /v1/projects takes
# `Authorization: Bearer <key>`; /readyz needs no auth (server/app.py).
set -euo pipefail
: "${PHOENIX_URL:?}" "${KEY_NAME:?}" "${KEY_FILE:?}" "${ADMIN_PASSWORD:?}"
ensure_packages curl jq
path="${ROOT}${KEY_FILE}"

works() {
  [ -s "$path" ] || return 1
  curl -fsS -o /dev/null -H "Authorization: Bearer $(cat "$path")" "$PHOENIX_URL/v1/projects"
}

ready=false
for _ in $(seq 1 60); do
  if curl -fsS -o /dev/null "$PHOENIX_URL/readyz"; then ready=true; break; fi
  sleep 5
done
[ "$ready" = true ] || die "Phoenix at $PHOENIX_URL did not become ready in 5 minutes"

if ! works; then
  jar=$(mktemp)
  trap 'rm -f "$jar"' EXIT
  jq -n --arg p "$ADMIN_PASSWORD" '{email: "admin@localhost", password: $p}' |
    curl -fsS -o /dev/null -c "$jar" -H 'Content-Type: application/json' --data @- "$PHOENIX_URL/auth/login" ||
    die "Phoenix refused its admin's login: citadel:phoenixAdminPassword is only the initial password; if it was changed in Phoenix, set the secret to the current one"
  key=$(jq -n --arg n "$KEY_NAME" '{data: {name: $n, description: "created by citadel"}}' |
    curl -fsS -b "$jar" -H 'Content-Type: application/json' --data @- "$PHOENIX_URL/v1/system/api_keys" |
    jq -er '.data.key') || die "Phoenix did not create the system API key $KEY_NAME"
  printf '%s' "$key" | write_file "$path" 0400 || true
  changed "created Phoenix system API key $KEY_NAME"
fi
printf 'PHOENIX_API_KEY=%s\n' "$(cat "$path")"
report "Phoenix API key $KEY_NAME"
