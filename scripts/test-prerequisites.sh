#!/usr/bin/env bash
# What `make test` needs from the machine besides Python: the Debian packages its tests use, and PostgreSQL answering
# on 127.0.0.1:5432 (or FOTA_TEST_POSTGRES_URL). Installs or starts what is missing; quick and silent when nothing is.
set -euo pipefail

# command that proves it is there -> Debian package that brings it
declare -A NEEDED=(
  [coap-client-notls]=libcoap3-bin # an outside CoAP client to check block-wise firmware delivery against
  [chromium]=chromium              # the browser the console tests drive (Playwright never downloads its own)
  [autoreconf]=autoconf            # DTLSSocket (the `dtls` extra, for the coaps tests) builds tinydtls from source
  [automake]=automake
  [libtoolize]=libtool
  [wrk]=wrk                        # the HTTP load generator of bench/
  [pg_isready]=postgresql-client
)

backends=${FOTA_TEST_BACKENDS:-sqlite,postgresql}
wants_postgres=""
[[ ",$backends," == *",postgresql,"* ]] && wants_postgres=1

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 1
  fi
}

apt_install() {
  if ! as_root true 2>/dev/null; then
    echo "make test needs Debian packages that are missing; run: sudo apt-get install -y $*" >&2
    exit 1
  fi
  echo "installing $* (Debian packages the tests need)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
for command in "${!NEEDED[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${NEEDED[$command]}")
done
# The local cluster is only installed when the tests would use it and none answers already.
postgres_url=${FOTA_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
pg_ready() { pg_isready -q -d "$postgres_url" 2>/dev/null; }
if [ -n "$wants_postgres" ] && [ -z "${FOTA_TEST_POSTGRES_URL:-}" ] && ! ls /etc/postgresql/*/main >/dev/null 2>&1 \
  && ! { command -v pg_isready >/dev/null 2>&1 && pg_ready; }; then
  missing+=(postgresql)
fi
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

[ -n "$wants_postgres" ] || exit 0
if ! pg_ready && [ -z "${FOTA_TEST_POSTGRES_URL:-}" ]; then
  cluster=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$cluster" ]; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$cluster" main start >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
  fi
fi
if ! pg_ready || ! psql -d "$postgres_url" -tAc "SELECT 1" >/dev/null 2>&1; then
  echo "PostgreSQL does not answer at $postgres_url; run the SQLite half with: FOTA_TEST_BACKENDS=sqlite make test" >&2
  exit 1
fi
