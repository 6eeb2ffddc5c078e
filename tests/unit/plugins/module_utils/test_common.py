# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/common.py: the one poll loop and deadline, the deletes refused while launching, the checks of the wait options."""

import decimal

import pytest

from ansible_collections.shadeform.cloud.plugins.module_utils.api_transport import ShadeformAPIError
from ansible_collections.shadeform.cloud.plugins.module_utils.common import (
    MAX_WAIT_SECONDS, Deletions, Waiter, refusal_is_final, threshold_key, wait_options_problem)


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_waiter_ends_at_its_deadline_the_last_sleep_cut_short():
    clock = FakeClock()
    waiter = Waiter(10, 3, clock=clock, sleep=clock.sleep)
    looks = []
    assert waiter.poll(lambda: looks.append(clock.now)) is None
    assert clock.sleeps == [3, 3, 3, 1]  # 10 s in all, never an interval past the deadline
    assert looks == [100.0, 103.0, 106.0, 109.0, 110.0]  # a last look at the deadline


def test_one_deadline_serves_every_wait_of_a_run():
    clock = FakeClock()
    waiter = Waiter(10, 2, clock=clock, sleep=clock.sleep)
    assert waiter.poll(lambda: True if clock.now >= 106 else None) is True
    assert waiter.poll(lambda: None) is None
    assert clock.now == 110.0  # the second wait had only what the first one left


class Client:
    """Answers delete_instance with the next of ``answers`` (an exception to raise, or None for accepted)."""

    def __init__(self, answers, listed=()):
        self.answers = list(answers)
        self.listed = list(listed)
        self.deletes = []

    def delete_instance(self, instance_id):
        self.deletes.append(instance_id)
        answer = self.answers.pop(0)
        if answer is not None:
            raise answer

    def list_instances(self):
        return self.listed


def test_deletions_keep_the_refusals_to_ask_again_and_take_404_for_gone():
    client = Client([ShadeformAPIError("not active yet", status=409), None, ShadeformAPIError("gone", status=404)])
    deletions = Deletions(client)
    deletions.request("a")
    assert deletions.refused == {"a": "not active yet"} and deletions.deleted == []
    assert deletions.retry() is True and deletions.deleted == ["a"]
    deletions.request("b")  # a 404: already gone (a reclaimed spot instance), neither refused nor deleted by this run
    assert deletions.refused == {} and deletions.deleted == ["a"]


@pytest.mark.parametrize("status", [None, 401, 403])
def test_deletions_raise_what_asking_again_cannot_fix(status):
    with pytest.raises(ShadeformAPIError):
        Deletions(Client([ShadeformAPIError("no", status=status)])).request("a")


def test_deletions_may_keep_a_delete_that_got_no_answer_to_ask_again():
    client = Client([ShadeformAPIError("no answer", status=None), ShadeformAPIError("gone", status=404),
                     ShadeformAPIError("no answer", status=None), None])
    deletions = Deletions(client, keep_unanswered=True)
    deletions.request("a")
    assert deletions.refused == {"a": "no answer"} and deletions.deleted == []
    assert deletions.retry() is True and deletions.deleted == []  # the first one had gone through: 404, gone
    deletions.request("b")
    assert deletions.retry() is True and deletions.deleted == ["b"] and client.deletes == ["a", "a", "b", "b"]
    with pytest.raises(ShadeformAPIError):  # the key or the account: asking again cannot fix it, kept or not
        Deletions(Client([ShadeformAPIError("no", status=401)]), keep_unanswered=True).request("a")


def test_deletions_ask_again_only_once_the_launch_has_ended():
    client = Client([ShadeformAPIError("launching", status=409), None], listed=[{"id": "a", "status": "pending"}])
    deletions = Deletions(client)
    deletions.request("a")
    clock = FakeClock()
    waiter = Waiter(1, 0.5, clock=clock, sleep=clock.sleep)
    assert deletions.wait(waiter) is False and client.deletes == ["a"]  # never asked again while pending
    client.listed = [{"id": "a", "status": "active"}]
    assert deletions.wait(Waiter(1, 0.5, clock=clock, sleep=clock.sleep)) is True and client.deletes == ["a", "a"]


def test_a_refusal_is_final_by_status_or_by_the_error_code_never_by_the_message():
    assert refusal_is_final(ShadeformAPIError("x", status=409, code="INSUFFICIENT_FUNDS"))
    assert not refusal_is_final(ShadeformAPIError("INSUFFICIENT_FUNDS", status=409, code="OUT_OF_CAPACITY"))
    assert refusal_is_final(ShadeformAPIError("x", status=None)) and refusal_is_final(ShadeformAPIError("x", status=503))


@pytest.mark.parametrize("params, problem", [
    ({"wait_timeout": 0, "poll_interval": 0.1}, None),
    ({"wait_timeout": MAX_WAIT_SECONDS, "poll_interval": MAX_WAIT_SECONDS}, None),
    ({"wait_timeout": -1, "poll_interval": 1}, "wait_timeout"),
    ({"wait_timeout": MAX_WAIT_SECONDS + 1, "poll_interval": 1}, "wait_timeout"),
    ({"wait_timeout": 1, "poll_interval": 0}, "poll_interval"),
    ({"wait_timeout": 1, "poll_interval": float("nan")}, "poll_interval"),
    ({"wait_timeout": 1, "poll_interval": float("-inf")}, "poll_interval"),
    ({}, None),
])
def test_wait_options_are_checked_once_for_every_module(params, problem):
    found = wait_options_problem(params)
    assert (found is None) is (problem is None)
    if problem:
        assert found.startswith(problem + " must be a ") and "number of seconds" in found


def test_a_module_may_ask_for_a_longer_least_wait_timeout():
    assert wait_options_problem({"wait_timeout": 0, "poll_interval": 1}) is None
    assert wait_options_problem({"wait_timeout": 0, "poll_interval": 1}, least_wait_timeout=1) == (
        "wait_timeout must be a number of seconds from 1 to 604800, not 0.")
    assert wait_options_problem({"wait_timeout": 1, "poll_interval": 1}, least_wait_timeout=1) is None
    assert wait_options_problem({"wait_timeout": 1, "poll_interval": 0}, least_wait_timeout=1) == (
        "poll_interval must be a positive number of seconds, at most 604800, not 0.")


def test_thresholds_compare_as_instants_and_decimals():
    assert threshold_key({"date_threshold": "2027-01-01T01:00:00+01:00", "spend_threshold": "3.1"}) == threshold_key(
        {"date_threshold": "2027-01-01T00:00:00Z", "spend_threshold": "3.10"})
    assert threshold_key({"spend_threshold": "3.1"})["spend_threshold"] == decimal.Decimal("3.1")
    assert threshold_key({"date_threshold": "soon"}) == {"date_threshold": "soon"}  # not a date: compared as given


def test_no_threshold_and_unset_fields_compare_as_nothing_set():
    # null, {} and a threshold whose fields are null are all no threshold: a rerun must not "remove" it again.
    assert threshold_key(None) == threshold_key({}) == threshold_key({"date_threshold": None, "spend_threshold": None}) == {}
    assert threshold_key({"spend_threshold": "50.00", "date_threshold": None}) == threshold_key({"spend_threshold": "50"})
    assert threshold_key({"spend_threshold": "50", "note": "x"}) == threshold_key({"spend_threshold": "50"})  # only the thresholds count
    assert threshold_key({"spend_threshold": "50"}) != threshold_key({"spend_threshold": "51"})
    assert threshold_key({"date_threshold": "2027-01-01T00:00:00"}) == threshold_key({"date_threshold": "2027-01-01T00:00:00Z"})
