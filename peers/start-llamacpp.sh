#!/usr/bin/env bash
# Start the llama-cpp-python OpenAI-compatible server (PyPI `llama-cpp-python[server]`; the
# first install compiles llama.cpp, ~7 min on 2 cores, then pip's wheel cache makes it fast)
# on 127.0.0.1 with the tiny GGUF that make_tiny_gguf.py writes locally. CPU only.
#
# Usage: start-llamacpp.sh [--install-only] [PORT]    (default port 18103)
# Prints the base URL on stdout. Stop: stop.sh llamacpp PORT.
# Model `tiny-llama`: "Hello! I am a tiny random test model." (finish_reason stop).
set -euo pipefail
PEER=llamacpp
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/lib.sh"
INSTALL_ONLY=0; [ "${1:-}" = --install-only ] && { INSTALL_ONLY=1; shift; }
PORT="${1:-18103}"
DIR="$PEERS_HOME/$PEER"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"

mkdir -p "$DIR"
if [ ! -f "$DIR/installed-$VERSION" ]; then
  log "installing llama-cpp-python[server]==$VERSION (compiles llama.cpp) into $DIR/venv"
  make_venv "$DIR"
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    "$DIR/venv/bin/pip" install -q "llama-cpp-python[server]==$VERSION" gguf tokenizers numpy >&2
  touch "$DIR/installed-$VERSION"
fi
if [ ! -f "$DIR/tiny-llama.gguf" ] || [ "$HERE/make_tiny_gguf.py" -nt "$DIR/tiny-llama.gguf" ]; then
  log "writing $DIR/tiny-llama.gguf"
  "$DIR/venv/bin/python" "$HERE/make_tiny_gguf.py" "$DIR/tiny-llama.gguf" >&2
fi
[ "$INSTALL_ONLY" = 1 ] && exit 0

prepare "$PORT"
cat > "$RUN/config.json" <<JSON
{"host": "127.0.0.1", "port": $PORT,
 "models": [{"model": "$DIR/tiny-llama.gguf", "model_alias": "tiny-llama", "n_ctx": 2048,
             "n_threads": 1, "verbose": false}]}
JSON
cd "$RUN"
launch "$RUN" "http://127.0.0.1:$PORT/v1/models" 120 \
  "$DIR/venv/bin/python" -m llama_cpp.server --config_file "$RUN/config.json"
echo "http://127.0.0.1:$PORT/v1"
