#!/usr/bin/env bash
# The TURN end-to-end test runs Debian's coturn (turnserver) in network namespaces made with
# iproute2's ip (and ss). Installs them when missing and we are root; otherwise says what to do.
set -euo pipefail
missing=()
command -v turnserver >/dev/null || missing+=(coturn)
{ command -v ip >/dev/null && command -v ss >/dev/null; } || missing+=(iproute2)
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} with apt-get (for the TURN end-to-end test)" >&2
  apt-get update -qq
  # The test starts its own turnserver inside a namespace; a system coturn service is not in its way.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "missing ${missing[*]}: install them (sudo apt-get install ${missing[*]}); the TURN end-to-end test needs them and root." >&2
exit 1
