from gateway.core.accounts import ip_allowed
from gateway.core.passwords import hash_password, verify_password


def test_password_hash_verifies_only_the_right_password_and_never_holds_it_in_clear():
    encoded = hash_password("s3cret")
    assert "s3cret" not in encoded and encoded.startswith("scrypt$")
    assert verify_password("s3cret", encoded)
    assert not verify_password("s3cret!", encoded)
    assert hash_password("s3cret") != encoded  # salted


def test_malformed_hash_is_a_failed_check_not_a_crash():
    for bad in ("", "plain", "scrypt$x$y$z$a$b", "bcrypt$1$2$3$AAAA$AAAA"):
        assert not verify_password("pw", bad)


def test_empty_allow_list_allows_everyone():
    assert ip_allowed("203.0.113.9", ())


def test_allow_list_matches_networks_and_single_addresses():
    allow = ("10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32")
    assert ip_allowed("10.20.30.40", allow)
    assert ip_allowed("192.0.2.7", allow)
    assert ip_allowed("2001:db8::1", allow)
    assert ip_allowed("::ffff:10.1.1.1", allow)  # IPv4 seen through an IPv6 socket
    assert not ip_allowed("192.0.2.8", allow)
    assert not ip_allowed("not-an-ip", allow)
