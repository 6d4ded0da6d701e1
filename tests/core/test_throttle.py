from gateway.core.throttle import TokenBucket


def test_five_per_second_allows_five_then_refuses_until_time_passes():
    bucket = TokenBucket(5, now=100.0)
    assert [bucket.try_take(100.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.try_take(100.2)  # one token back after 1/5 s
    assert not bucket.try_take(100.2)


def test_rate_zero_is_unlimited():
    bucket = TokenBucket(0, now=0.0)
    assert all(bucket.try_take(0.0) for _ in range(10_000))


def test_tokens_do_not_accumulate_beyond_one_second_of_burst():
    bucket = TokenBucket(2, now=0.0)
    assert sum(bucket.try_take(1000.0) for _ in range(10)) == 2


def test_fractional_rate_allows_one_then_waits():
    bucket = TokenBucket(0.5, now=0.0)
    assert bucket.try_take(0.0)
    assert not bucket.try_take(1.0)
    assert bucket.try_take(2.0)
