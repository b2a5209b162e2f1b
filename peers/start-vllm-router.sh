#!/usr/bin/env bash
# Start vLLM's router (vllm-project/router: PyPI `vllm-router`, a Rust load balancer shipped
# as a Python wheel) on 127.0.0.1 in front of one vLLM engine on loopback.
#
# Usage: start-vllm-router.sh [--install-only] [PORT]    (default port 18113)
# Prints the base URL on stdout. Stop both: stop.sh vllm-router PORT.
# The engine (start-vllm.sh, model `tiny-llama`) runs on UPSTREAM_PORT (default 18104): reused
# when this tool already runs it there, started otherwise (and then stopped with the router).
# The router's Prometheus exporter binds 127.0.0.1:PORT+1000 (its default is 127.0.0.1:29000).
set -euo pipefail
PEER=vllm-router
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib.sh"
INSTALL_ONLY=0; [ "${1:-}" = --install-only ] && { INSTALL_ONLY=1; shift; }
PORT="${1:-18113}"
DIR="$PEERS_HOME/$PEER"
VERSION="${VLLM_ROUTER_VERSION:-0.1.17}"

mkdir -p "$DIR"
if [ ! -f "$DIR/installed-$VERSION" ]; then
  log "installing vllm-router==$VERSION into $DIR/venv"
  make_venv "$DIR"
  "$DIR/venv/bin/pip" install -q "vllm-router==$VERSION" >&2
  touch "$DIR/installed-$VERSION"
fi
if [ "$INSTALL_ONLY" = 1 ]; then exec "$HERE/start-vllm.sh" --install-only; fi

prepare "$PORT"
UPSTREAM_URL="$(start_upstream vllm "${UPSTREAM_PORT:-18104}")" || { stop_run "$RUN"; exit 1; }
cd "$RUN"
launch "$RUN" "http://127.0.0.1:$PORT/health" 60 \
  "$DIR/venv/bin/vllm-router" --host 127.0.0.1 --port "$PORT" \
  --worker-urls "${UPSTREAM_URL%/v1}" \
  --prometheus-host 127.0.0.1 --prometheus-port "$((PORT + 1000))" \
  || { stop_run "$RUN"; exit 1; }
echo "http://127.0.0.1:$PORT/v1"
