"""The conformance tests pytest collects for a target (beside the YAML cases).

`REACH` says what each test can give rules to judge, so that a rule that judged nothing can
be told apart: not exercised (its tests ran), not selected (they did not run).
`tests/test_suite_reach.py` keeps it in step with the tests collected here.
"""

from conformance._dispatch import Reach
from conformance._model import Mistake, Probe
from conformance._probe import FRAMING, SEMANTICS, WELL_FORMED
from conformance.suite._strategies import acceptance_rules

_REJECTED = frozenset(Mistake) - {Mistake.WRONG_METHOD}
"""The mistakes of the requests the suite sends through the client (the methods are probes)."""


def _probe(probe: Probe) -> Reach:
    wrong_method = frozenset({Mistake.WRONG_METHOD}) if probe.method else frozenset()
    return Reach(mistakes=wrong_method, probes=frozenset({probe}), transport=probe in WELL_FORMED)


REACH = {
    "test_properties.py::test_valid_requests_stream_conformantly": Reach(
        streams=True, sessions=True, acceptances=acceptance_rules()
    ),
    "test_properties.py::test_every_part_of_a_request_broken_is_rejected": Reach(
        mistakes=_REJECTED
    ),
    "test_properties.py::test_broken_requests_are_rejected": Reach(mistakes=_REJECTED),
    "test_concurrency.py::test_concurrent_streams_are_conformant_with_distinct_ids": Reach(
        streams=True, sessions=True
    ),
    **{f"test_http.py::test_http_semantics[{p}]": _probe(p) for p in SEMANTICS},
    **{f"test_http.py::test_http1_message[{p}]": _probe(p) for p in FRAMING},
}
