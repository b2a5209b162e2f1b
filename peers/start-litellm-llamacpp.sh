#!/usr/bin/env bash
# LiteLLM proxy in front of the llama-cpp-python server (both on 127.0.0.1):
# start-litellm.sh --upstream llamacpp.
# Usage: start-litellm-llamacpp.sh [--install-only] [PORT]   (default port 18112)
# The engine runs on UPSTREAM_PORT (default 18103), reused when already running there.
# Stop both: stop.sh litellm-llamacpp PORT.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "${1:-}" = --install-only ]; then
  "$HERE/start-llamacpp.sh" --install-only && exec "$HERE/start-litellm.sh" --install-only
fi
exec "$HERE/start-litellm.sh" --upstream llamacpp "${1:-18112}"
