"""The latest-wins worker: never queues more than one item, survives failing items."""

from __future__ import annotations

import threading
import time

from hand_pose_ros.tools.harness import wait_until
from hand_pose_ros.ros.worker import LatestWinsWorker

WAIT_S = 10.0


def test_newest_item_replaces_the_waiting_one():
    gate, started = threading.Event(), threading.Event()
    done = []

    def process(item):
        started.set()
        gate.wait(WAIT_S)
        done.append(item)

    worker = LatestWinsWorker(process)
    before = time.monotonic()
    worker.submit(0)
    assert started.wait(WAIT_S)  # 0 is in progress; 1..9 arrive meanwhile
    for item in range(1, 10):
        worker.submit(item)
    gate.set()
    assert wait_until(lambda: len(done) == 2, WAIT_S)
    worker.stop()
    assert done == [0, 9]
    assert worker.skipped == 8 and worker.processed == 2
    # The skips' times say how far behind the worker has been lately (the node's "behind").
    assert worker.skipped_since(before) == 8
    assert worker.skipped_since(time.monotonic() + 1.0) == 0


def test_a_failing_item_is_counted_and_the_next_one_runs():
    errors, done = [], []

    def process(item):
        if item == "bad":
            raise ValueError("bad set")
        done.append(item)

    worker = LatestWinsWorker(process, on_error=errors.append)
    worker.submit("bad")
    assert wait_until(lambda: worker.errors == 1, WAIT_S)
    worker.submit("good")
    assert wait_until(lambda: done == ["good"], WAIT_S)
    worker.stop()
    assert isinstance(errors[0], ValueError)


def test_a_second_stage_finishes_every_item_in_order_while_the_first_takes_the_next():
    from hand_pose_ros.ros.worker import SerialStage

    gate, finished, firsts = threading.Event(), [], []

    def finish(item):
        gate.wait(WAIT_S)  # the first stage goes on meanwhile
        finished.append(item)

    def first(item):
        firsts.append(item)
        return None if item == "no follow-up" else item

    worker = LatestWinsWorker(first, then=SerialStage(finish))
    worker.submit(0)
    assert wait_until(lambda: firsts == [0], WAIT_S)
    worker.submit(1)  # runs in the first stage while 0 waits in the second
    assert wait_until(lambda: firsts == [0, 1], WAIT_S)
    worker.submit("no follow-up")
    assert wait_until(lambda: len(firsts) == 3, WAIT_S)
    assert finished == []
    gate.set()
    worker.stop()  # the second stage finishes what it was given
    assert finished == [0, 1] and worker.then.errors == 0
