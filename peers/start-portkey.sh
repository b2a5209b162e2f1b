#!/usr/bin/env bash
# Start the Portkey AI Gateway (npm `@portkey-ai/gateway`, run with the machine's Node.js)
# on 127.0.0.1 in front of one vLLM engine on loopback.
#
# Usage: start-portkey.sh [--install-only] [PORT]    (default port 18115)
# Prints the base URL on stdout. Stop both: stop.sh portkey PORT.
# Portkey picks its upstream per request, from headers: RUN/headers lists the two a client
# sends (x-portkey-provider: openai, x-portkey-custom-host: the engine's URL); certify.sh
# passes them to the suite. Its start-server.js binds every interface and takes no host, so
# loopback.mjs (preloaded) binds it to 127.0.0.1. The engine (start-vllm.sh, model
# `tiny-llama`) runs on UPSTREAM_PORT (default 18104): reused when this tool already runs it
# there, started otherwise (and then stopped with the gateway).
set -euo pipefail
PEER=portkey
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib.sh"
INSTALL_ONLY=0; [ "${1:-}" = --install-only ] && { INSTALL_ONLY=1; shift; }
PORT="${1:-18115}"
DIR="$PEERS_HOME/$PEER"
VERSION="${PORTKEY_VERSION:-1.15.2}"
MAIN="$DIR/npm/node_modules/@portkey-ai/gateway/build/start-server.js"

mkdir -p "$DIR/npm"
if [ ! -f "$DIR/installed-$VERSION" ]; then
  log "installing @portkey-ai/gateway@$VERSION into $DIR/npm"
  npm install --prefix "$DIR/npm" --no-audit --no-fund --loglevel=error \
    "@portkey-ai/gateway@$VERSION" >&2
  touch "$DIR/installed-$VERSION"
fi
if [ "$INSTALL_ONLY" = 1 ]; then exec "$HERE/start-vllm.sh" --install-only; fi

prepare "$PORT"
UPSTREAM_URL="$(start_upstream vllm "${UPSTREAM_PORT:-18104}")" || { stop_run "$RUN"; exit 1; }
printf 'x-portkey-provider: openai\nx-portkey-custom-host: %s\n' "$UPSTREAM_URL" > "$RUN/headers"
cd "$RUN"
launch "$RUN" "http://127.0.0.1:$PORT/" 60 \
  node --import "$HERE/loopback.mjs" "$MAIN" --port="$PORT" --headless \
  || { stop_run "$RUN"; exit 1; }
echo "http://127.0.0.1:$PORT/v1"
