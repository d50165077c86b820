#!/usr/bin/env bash
# A Phoenix system API key for a client (vLLM's traces, HADES), kept in a root-only file on the
# stack host and printed on a line of its own as PHOENIX_API_KEY=<key> for the program to hand on.
# A key that still works is reused; otherwise the admin logs in and creates one. With PROJECT set,
# the client's project is created too, once: GET /v1/projects/{name} answers 404 until it exists,
# and POST /v1/projects {"name","description"} creates it (server/api/routers/v1/projects.py).
# Phoenix 20.26.1 (sdist): POST /auth/login {"email","password"} answers 204 with session
# cookies (server/api/routers/auth.py); POST /v1/system/api_keys {"data":{"name"}} with that
# session answers 201 with data.key (server/api/routers/v1/api_keys.py); GET /v1/projects takes
# `Authorization: Bearer <key>`; /readyz needs no auth (server/app.py).
set -euo pipefail
: "${PHOENIX_URL:?}" "${KEY_NAME:?}" "${KEY_FILE:?}" "${ADMIN_PASSWORD:?}"
PROJECT="${PROJECT:-}"
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
if [ -n "$PROJECT" ]; then
  auth="Authorization: Bearer $(cat "$path")"
  code=$(curl -sS -o /dev/null -w '%{http_code}' -H "$auth" "$PHOENIX_URL/v1/projects/$PROJECT")
  case "$code" in
    200) ;;
    404)
      jq -n --arg n "$PROJECT" '{name: $n, description: "created by citadel"}' |
        curl -fsS -o /dev/null -H "$auth" -H 'Content-Type: application/json' --data @- "$PHOENIX_URL/v1/projects" ||
        die "Phoenix did not create the project $PROJECT"
      changed "created Phoenix project $PROJECT"
      ;;
    *) die "Phoenix answered HTTP $code for the project $PROJECT" ;;
  esac
fi
printf 'PHOENIX_API_KEY=%s\n' "$(cat "$path")"
report "Phoenix API key $KEY_NAME${PROJECT:+ and project $PROJECT}"
