#!/usr/bin/env bash
# Start LM-Proxy (PyPI `lm-proxy`, an OpenAI-compatible HTTP proxy built on FastAPI and
# ai-microcore) on 127.0.0.1 in front of one vLLM engine on loopback.
#
# Usage: start-lm-proxy.sh [--install-only] [PORT]    (default port 18114)
# Prints the base URL on stdout. Stop both: stop.sh lm-proxy PORT.
# Every model name is routed to the engine (routing "*" = "vllm.*"); any API key, or none, is
# accepted (its AllowAll key check). The engine (start-vllm.sh, model `tiny-llama`) runs on
# UPSTREAM_PORT (default 18104): reused when this tool already runs it there, started
# otherwise (and then stopped with the proxy).
set -euo pipefail
PEER=lm-proxy
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib.sh"
INSTALL_ONLY=0; [ "${1:-}" = --install-only ] && { INSTALL_ONLY=1; shift; }
PORT="${1:-18114}"
DIR="$PEERS_HOME/$PEER"
VERSION="${LM_PROXY_VERSION:-3.3.2}"

mkdir -p "$DIR"
if [ ! -f "$DIR/installed-$VERSION" ]; then
  log "installing lm-proxy==$VERSION into $DIR/venv"
  make_venv "$DIR"
  "$DIR/venv/bin/pip" install -q "lm-proxy==$VERSION" >&2
  touch "$DIR/installed-$VERSION"
fi
if [ "$INSTALL_ONLY" = 1 ]; then exec "$HERE/start-vllm.sh" --install-only; fi

prepare "$PORT"
UPSTREAM_URL="$(start_upstream vllm "${UPSTREAM_PORT:-18104}")" || { stop_run "$RUN"; exit 1; }
cat > "$RUN/config.toml" <<TOML
host = "127.0.0.1"
port = $PORT

[connections.vllm]
api_type = "open_ai"
api_base = "$UPSTREAM_URL"
api_key = "sk-upstream-not-checked"

[routing]
"*" = "vllm.*"

[api_key_check]
class = "lm_proxy.api_key_check.AllowAll"
TOML
cd "$RUN"
launch "$RUN" "http://127.0.0.1:$PORT/v1/models" 60 \
  "$DIR/venv/bin/lm-proxy" --config "$RUN/config.toml" || { stop_run "$RUN"; exit 1; }
echo "http://127.0.0.1:$PORT/v1"
