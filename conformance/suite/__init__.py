"""The conformance tests pytest collects for a target (beside the YAML cases).

`REACH` says what each test can give rules to judge, so that a rule that judged nothing can
be told apart: not exercised (its tests ran), not selected (they did not run). A test of
`tests/test_architecture.py`'s neighbours keeps it in step with the test functions here.
"""

from conformance._dispatch import Reach
from conformance.suite._strategies import MUTATIONS

REACH = {
    "test_properties.py::test_valid_requests_stream_conformantly": Reach(
        streams=True, sessions=True
    ),
    "test_properties.py::test_broken_required_field_is_rejected": Reach(
        mistakes=frozenset(mistake for mistake, _ in MUTATIONS.values())
    ),
    "test_concurrency.py::test_concurrent_streams_are_conformant_with_distinct_ids": Reach(
        streams=True, sessions=True
    ),
}
