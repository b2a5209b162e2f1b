#!/usr/bin/env bash
# CI: certify the LiteLLM proxy and vLLM end to end, and the gateways in front of vLLM
# (LiteLLM, vLLM's router, LM-Proxy, Portkey: vLLM stays up for them), then compare each
# verdict and set of failing MUST rule ids with the committed results
# (peers/certificates/*.results.json, from which peers/COMPATIBILITY.md is generated).
# Exits non-zero on any difference. Servers install into /tmp/peers/<name> once and are
# reused (PEERS_HOME to move it): first run ~6 min (vLLM install ~2-4 min, the gateways'
# installs ~1.5 min), later runs ~2.5 min (the four gateways add ~1-1.5 min).
# transformers serve and llama-cpp-python (compiles for minutes), and LiteLLM in front of
# llama-cpp-python, are a separate command:
#   peers/certify.sh --out DIR transformers llamacpp litellm-llamacpp &&
#     .venv/bin/python peers/table.py check DIR
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'; }
PEERS=(litellm vllm litellm-vllm vllm-router lm-proxy portkey)
ACTUAL="$(mktemp -d)"
trap 'rm -rf "$ACTUAL"' EXIT
# certify.sh bounds every install, start and suite run with its own timeout and stops each
# server by its pid on exit; this outer limit is a backstop (TERM lets its trap run).
status=0
timeout -k 60 3600 peers/certify.sh --out "$ACTUAL" "${PEERS[@]}" || status=$?
.venv/bin/python peers/table.py check "$ACTUAL" "${PEERS[@]}" || status=1
.venv/bin/python peers/table.py table --check || status=1
exit "$status"
