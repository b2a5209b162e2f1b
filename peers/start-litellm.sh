#!/usr/bin/env bash
# Start the LiteLLM proxy (BerriAI/litellm, PyPI `litellm[proxy]`) on 127.0.0.1, its models
# answered by LiteLLM's own `mock_response` provider path (no upstream, no network), or, with
# --upstream ENGINE, by a real engine on loopback that LiteLLM proxies to.
#
# Usage: start-litellm.sh [--install-only] [--upstream ENGINE] [PORT]  (default port 18101)
# Prints the base URL on stdout. Stop: stop.sh litellm PORT (stop.sh litellm-ENGINE PORT).
# Model `mock-gpt` streams "Hello from the LiteLLM mock provider. This is a streamed reply."
# in 3-character chunks. No authentication (LiteLLM's local-development escape hatch).
# --upstream vllm|llamacpp: model `tiny-llama` goes to that engine on 127.0.0.1:UPSTREAM_PORT
# (default: the engine's own default port), which is reused when this tool already runs it
# there and started otherwise (and then stopped with the gateway). LiteLLM's provider for
# vLLM is `hosted_vllm/`; for the llama-cpp-python server, the generic `openai/` (as LiteLLM
# documents for llama.cpp's OpenAI-compatible server). One setting differs from LiteLLM's
# defaults: `disable_cooldowns`. By default one upstream 500 (LiteLLM's own, e.g. for
# `"stream": "true"`) puts the only deployment in a cooldown and LiteLLM answers every valid
# request 429 "No deployments available" for 5 s; whether the suite's random property test
# sends such a request varies from run to run, so the row would too (peers/README.md).
# Pinned 1.108.0: later releases tried do not install with the [proxy] extra (they pin
# litellm-proxy-extras releases PyPI does not serve).
set -euo pipefail
PEER=litellm
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
INSTALL_ONLY=0; [ "${1:-}" = --install-only ] && { INSTALL_ONLY=1; shift; }
ENGINE=""; [ "${1:-}" = --upstream ] && { ENGINE="$2"; shift 2; }
PORT="${1:-18101}"
DIR="$PEERS_HOME/$PEER"
VERSION="${LITELLM_VERSION:-1.108.0}"

mkdir -p "$DIR"
if [ ! -f "$DIR/installed-$VERSION" ]; then
  log "installing litellm[proxy]==$VERSION into $DIR/venv"
  make_venv "$DIR"
  "$DIR/venv/bin/pip" install -q "litellm[proxy]==$VERSION" >&2
  touch "$DIR/installed-$VERSION"
fi
[ "$INSTALL_ONLY" = 1 ] && exit 0

if [ -z "$ENGINE" ]; then
  prepare "$PORT"
  cat > "$RUN/config.yaml" <<'YAML'
model_list:
  - model_name: mock-gpt
    litellm_params:
      model: openai/mock-gpt
      api_key: sk-mock-not-used
      mock_response: "Hello from the LiteLLM mock provider. This is a streamed reply."
litellm_settings:
  telemetry: false
YAML
else
  case "$ENGINE" in
    vllm) PROVIDER=hosted_vllm; UPSTREAM_PORT="${UPSTREAM_PORT:-18104}" ;;
    llamacpp) PROVIDER=openai; UPSTREAM_PORT="${UPSTREAM_PORT:-18103}" ;;
    *) log "unknown upstream engine: $ENGINE"; exit 2 ;;
  esac
  PEER="litellm-$ENGINE"
  prepare "$PORT"
  UPSTREAM_URL="$(start_upstream "$ENGINE" "$UPSTREAM_PORT")" || { stop_run "$RUN"; exit 1; }
  cat > "$RUN/config.yaml" <<YAML
model_list:
  - model_name: tiny-llama
    litellm_params:
      model: $PROVIDER/tiny-llama
      api_base: $UPSTREAM_URL
      api_key: sk-upstream-not-checked
router_settings:
  disable_cooldowns: true
litellm_settings:
  telemetry: false
YAML
fi
export LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY=true
export LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_TELEMETRY=False
unset LITELLM_MASTER_KEY
cd "$RUN"
launch "$RUN" "http://127.0.0.1:$PORT/health/liveliness" 120 \
  "$DIR/venv/bin/litellm" --config "$RUN/config.yaml" --host 127.0.0.1 --port "$PORT" \
  || { stop_run "$RUN"; exit 1; }
echo "http://127.0.0.1:$PORT/v1"
