"""The conformance tests pytest collects for a target (beside the YAML cases)."""
