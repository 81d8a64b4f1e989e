"""Waiting for a state with a generous deadline, never counting polls (a busy machine polls fewer times)."""

import time


def wait_for(predicate, timeout=90, what="the condition", every=0.1):
    """Call `predicate` until it returns something truthy and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(every)
