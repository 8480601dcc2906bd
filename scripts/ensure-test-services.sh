#!/usr/bin/env bash
# The TURN end-to-end test runs Debian's coturn (turnserver) in network namespaces made with
# iproute2's ip (and ss); the scale-out tests run Debian's redis-server (started by the tests on a
# free port). Installs them when missing and we are root; otherwise says what to do.
set -euo pipefail
missing=()
command -v turnserver >/dev/null || missing+=(coturn)
{ command -v ip >/dev/null && command -v ss >/dev/null; } || missing+=(iproute2)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} with apt-get (for the TURN and scale-out tests)" >&2
  apt-get update -qq
  # The tests start their own turnserver and redis-server; a system service of either is not in their way.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "missing ${missing[*]}: install them (sudo apt-get install ${missing[*]}); the TURN and scale-out tests need them (TURN also root)." >&2
exit 1
