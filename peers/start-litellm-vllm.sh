#!/usr/bin/env bash
# LiteLLM proxy in front of vLLM (both on 127.0.0.1): start-litellm.sh --upstream vllm.
# Usage: start-litellm-vllm.sh [--install-only] [PORT]   (default port 18111)
# The vLLM engine runs on UPSTREAM_PORT (default 18104), reused when already running there.
# Stop both: stop.sh litellm-vllm PORT.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "${1:-}" = --install-only ]; then
  "$HERE/start-vllm.sh" --install-only && exec "$HERE/start-litellm.sh" --install-only
fi
exec "$HERE/start-litellm.sh" --upstream vllm "${1:-18111}"
