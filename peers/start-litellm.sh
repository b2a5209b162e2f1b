#!/usr/bin/env bash
# Start the LiteLLM proxy (BerriAI/litellm, PyPI `litellm[proxy]`) on 127.0.0.1, its models
# answered by LiteLLM's own `mock_response` provider path: no upstream, no network.
#
# Usage: start-litellm.sh [--install-only] [PORT]     (default port 18101)
# Prints the base URL on stdout. Stop: stop.sh litellm PORT.
# Model `mock-gpt` streams "Hello from the LiteLLM mock provider. This is a streamed reply."
# in 3-character chunks. No authentication (LiteLLM's local-development escape hatch).
# Pinned 1.108.0: later releases tried do not install with the [proxy] extra (they pin
# litellm-proxy-extras releases PyPI does not serve).
set -euo pipefail
PEER=litellm
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
INSTALL_ONLY=0; [ "${1:-}" = --install-only ] && { INSTALL_ONLY=1; shift; }
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
export LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY=true
export LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_TELEMETRY=False
unset LITELLM_MASTER_KEY
cd "$RUN"
launch "$RUN" "http://127.0.0.1:$PORT/health/liveliness" 120 \
  "$DIR/venv/bin/litellm" --config "$RUN/config.yaml" --host 127.0.0.1 --port "$PORT"
echo "http://127.0.0.1:$PORT/v1"
