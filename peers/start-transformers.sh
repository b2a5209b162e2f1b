#!/usr/bin/env bash
# Start Hugging Face `transformers serve` (transformers 5.x, PyPI `transformers[serving]`)
# on 127.0.0.1 with the tiny deterministic model that make_tiny_llama.py builds locally.
#
# Usage: start-transformers.sh [--install-only] [PORT]  (default port 18102)
# Prints the base URL on stdout. Stop: stop.sh transformers PORT.
# Model `tiny-llama` (the server is pinned to it): "Hello! I am a tiny random test model.";
# with `tools`, one get_weather({"city": "Paris"}) call.
set -euo pipefail
PEER=transformers
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib.sh"
INSTALL_ONLY=0; [ "${1:-}" = --install-only ] && { INSTALL_ONLY=1; shift; }
PORT="${1:-18102}"
DIR="$PEERS_HOME/$PEER"
TORCH_VERSION=2.13.0
VERSION="${TRANSFORMERS_VERSION:-5.24.0}"

mkdir -p "$DIR"
MARK="$DIR/installed-torch$TORCH_VERSION-transformers$VERSION"
if [ ! -f "$MARK" ]; then
  log "installing torch==$TORCH_VERSION (CPU) + transformers[serving]==$VERSION into $DIR/venv"
  make_venv "$DIR"
  # torch first and pinned, so nothing can pull a CUDA build.
  "$DIR/venv/bin/pip" install -q "torch==$TORCH_VERSION" >&2
  "$DIR/venv/bin/pip" install -q "torch==$TORCH_VERSION" "transformers[serving]==$VERSION" tokenizers >&2
  touch "$MARK"
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
if [ ! -f "$DIR/tiny-llama/model.safetensors" ] || [ "$HERE/make_tiny_llama.py" -nt "$DIR/tiny-llama/model.safetensors" ]; then
  log "building the tiny model in $DIR/tiny-llama"
  rm -rf "$DIR/tiny-llama"
  "$DIR/venv/bin/python" "$HERE/make_tiny_llama.py" "$DIR/tiny-llama" >&2
fi
[ "$INSTALL_ONLY" = 1 ] && exit 0

prepare "$PORT"
# Run from $DIR and name the model folder relatively, so the model id is "tiny-llama".
cd "$DIR"
launch "$RUN" "http://127.0.0.1:$PORT/health" 180 \
  "$DIR/venv/bin/transformers" serve tiny-llama --host 127.0.0.1 --port "$PORT" --device cpu \
  --log-level info
echo "http://127.0.0.1:$PORT/v1"
