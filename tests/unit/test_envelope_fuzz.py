"""Random keys, headers and values against the strict envelope and the contract: a message or a bounded, specific refusal."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from orderflow.contract.schemas import MAX_REASON, Contract, ContractViolation
from orderflow.settings import Settings
from orderflow.contract.envelope import BadEnvelope, Envelope, decode
from tests.messages import EXAMPLES
from tests.strategies import SENTINEL, bad_records

CONTRACT = Contract(Settings().schema_dir)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(bad_records(EXAMPLES))
def test_any_record_gives_a_valid_message_or_a_short_specific_reason_that_quotes_no_planted_value(record):
    key, value, headers = record
    try:
        envelope = decode(key, value, headers)
        CONTRACT.validate(envelope.message_type, envelope.schema_version, envelope.payload)
    except (BadEnvelope, ContractViolation) as refused:
        reason = str(refused)
        assert reason.strip(), "a refusal always says why"
        assert len(reason) <= MAX_REASON
        assert SENTINEL not in reason
        assert SENTINEL[:12] not in reason
        assert not reason.rstrip().endswith(":"), "no generic reason with nothing after the colon"
    else:
        assert isinstance(envelope, Envelope)
