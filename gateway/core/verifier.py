"""The password verifier: scrypt checks on a few threads of their own, with a bounded queue.

Each scrypt check (N=2**14, r=8) allocates 16 MB while it runs. Checked on the reactor's
thread pool (up to 10 threads), a burst of failed logins kept ten of those at once, and
glibc kept each thread's 16 MB after the check (its mmap threshold grows to the size of
the last large block freed, so the next 16 MB comes from the thread's arena and stays
there): RSS went from 65 to 252 MB and never came down. Here at most `workers` checks run
at once, on `workers` threads, so at most `workers` x 16 MB are ever in use;
`keep_large_blocks_out_of_the_heap()` makes glibc hand those blocks back to the OS when a
check ends. A check that would have to wait behind `queue_limit` others is refused at once
(VerifierBusy): under a storm the answer is a quick "busy", not a timeout.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from twisted.internet.defer import Deferred, fail, maybeDeferred
from twisted.internet.interfaces import IReactorThreads

from gateway.core.passwords import verify_password

__all__ = ["PasswordVerifier", "VerifierBusy", "keep_large_blocks_out_of_the_heap"]

_M_MMAP_THRESHOLD = -3  # glibc's mallopt() parameter number
LARGE_BLOCK = 4 * 1024 * 1024  # bytes: a block this big or bigger is always mmap()ed


class VerifierBusy(Exception):
    """Too many password checks are waiting already: refused without checking."""


class PasswordVerifier:
    """`verify(password, encoded)` off the reactor thread, at most `workers` at a time."""

    def __init__(
        self, threads: IReactorThreads, *, workers: int = 2, queue_limit: int = 1000,
        check: Callable[[str, str], bool] = verify_password,
    ) -> None:
        if workers < 1 or queue_limit < 0:
            raise ValueError("workers must be at least 1 and queue_limit not negative")
        self._threads = threads
        self._check = check
        self._limit = workers + queue_limit
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="smsgw-password")
        self.in_progress = 0  # running and waiting checks

    def verify(self, password: str, encoded: str) -> Deferred[bool]:
        """Fire with whether `password` matches `encoded`, or fail with VerifierBusy at once."""
        if self.in_progress >= self._limit:
            return fail(VerifierBusy(f"{self.in_progress} password checks in progress"))
        try:
            future = self._executor.submit(self._check, password, encoded)
        except RuntimeError:  # closed: the gateway is stopping
            return fail(VerifierBusy("the gateway is stopping"))
        self.in_progress += 1
        d: Deferred[bool] = Deferred()
        future.add_done_callback(lambda f: self._threads.callFromThread(self._settle, f, d))
        return d

    def _settle(self, future: Future, d: Deferred[bool]) -> None:
        self.in_progress -= 1
        if future.cancelled():  # close() while it waited
            d.errback(VerifierBusy("the gateway is stopping"))
            return
        error = future.exception()
        if error is not None:
            d.errback(error)
        else:
            d.callback(future.result())

    def close(self) -> None:
        """Stop taking checks; the threads end once the running ones are done."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class InlineVerifier:
    """Checks in the calling thread, at once: for tests on task.Clock and benchmarks that
    leave the password check out of what they measure."""

    def verify(self, password: str, encoded: str) -> Deferred[bool]:
        return maybeDeferred(verify_password, password, encoded)

    def close(self) -> None:
        pass


def keep_large_blocks_out_of_the_heap(threshold: int = LARGE_BLOCK) -> bool:
    """Have glibc mmap() every block of `threshold` bytes or more, so it is returned to the
    OS when freed (scrypt's 16 MB above all). Fixing the threshold also turns off glibc's
    habit of raising it after each large free. Process-wide, so service.py calls it once at
    start. False where the C library is not glibc (the bound on workers still holds)."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold))
