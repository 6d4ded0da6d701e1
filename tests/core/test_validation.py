import pytest

from gateway.core.validation import SubmitRejected, validate_submit
from gateway.model import Address, SubmitRequest
from gateway.smpp.constants import CommandStatus as S

NOW = 1_800_000_000.0


def request(**changes) -> SubmitRequest:
    fields = dict(
        source=Address(ton=1, npi=1, addr="4915112345678"),
        destination=Address(ton=1, npi=1, addr="4917612345678"),
        body=b"hello",
    )
    fields.update(changes)
    return SubmitRequest(**fields)


def test_a_plain_submit_is_valid():
    times = validate_submit(request(), NOW)
    assert times.scheduled_at is None and times.expires_at is None


@pytest.mark.parametrize("changes, status", [
    (dict(source=Address(ton=9, npi=1, addr="49")), S.ESME_RINVSRCTON),
    (dict(source=Address(ton=1, npi=7, addr="49")), S.ESME_RINVSRCNPI),
    (dict(source=Address(ton=1, npi=1, addr="49abc")), S.ESME_RINVSRCADR),
    (dict(source=Address(ton=5, npi=0, addr="TwelveChars!")), S.ESME_RINVSRCADR),
    (dict(destination=Address(ton=1, npi=1, addr="")), S.ESME_RINVDSTADR),
    (dict(destination=Address(ton=1, npi=1, addr="12ab")), S.ESME_RINVDSTADR),
    (dict(destination=Address(ton=1, npi=1, addr="1" * 21)), S.ESME_RINVDSTADR),
    (dict(destination=Address(ton=5, npi=1, addr="49")), S.ESME_RINVDSTTON),
    (dict(destination=Address(ton=1, npi=2, addr="49")), S.ESME_RINVDSTNPI),
    (dict(esm_class=0x04), S.ESME_RINVESMCLASS),
    (dict(registered_delivery=0x03), S.ESME_RINVREGDLVFLG),
    (dict(registered_delivery=0x21), S.ESME_RINVREGDLVFLG),
    (dict(priority=4), S.ESME_RINVPRTFLG),
    (dict(schedule_delivery_time="garbage"), S.ESME_RINVSCHED),
    (dict(validity_period="garbage"), S.ESME_RINVEXPIRY),
])
def test_invalid_fields_get_the_seeds_error_codes(changes, status):
    with pytest.raises(SubmitRejected) as caught:
        validate_submit(request(**changes), NOW)
    assert caught.value.status == status


@pytest.mark.parametrize("changes", [
    dict(esm_class=0x03), dict(esm_class=0x43), dict(esm_class=0x40),  # Kannel's modes, UDHI
    dict(registered_delivery=0x11), dict(registered_delivery=0x02),  # intermediate, on failure
    dict(source=Address(ton=5, npi=0, addr="MyShop")),
    dict(source=Address(ton=0, npi=0, addr="Info")),
    dict(source=Address(ton=0, npi=0, addr="")),
    dict(destination=Address(ton=1, npi=1, addr="+4917612345678")),
])
def test_real_clients_liberal_values_are_accepted(changes):
    validate_submit(request(**changes), NOW)


def test_validity_before_schedule_is_invalid_expiry():
    with pytest.raises(SubmitRejected) as caught:
        validate_submit(request(schedule_delivery_time="000000020000000R",
                                validity_period="000000010000000R"), NOW)
    assert caught.value.status == S.ESME_RINVEXPIRY


def test_relative_schedule_and_validity_are_parsed_against_now():
    times = validate_submit(request(schedule_delivery_time="000000001000000R",
                                    validity_period="000001000000000R"), NOW)
    assert times.scheduled_at == pytest.approx(NOW + 600)
    assert times.expires_at == pytest.approx(NOW + 86400)
