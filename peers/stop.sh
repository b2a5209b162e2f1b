#!/usr/bin/env bash
# Usage: stop.sh NAME PORT   -- stop the server that start-NAME.sh started on PORT (by its pid),
# and the upstream engine it started, if it is a gateway that started one.
set -euo pipefail
PEER="$1"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stop_run "$PEERS_HOME/$PEER/run-$2"
log "stopped (port $2)"
