"""The approximate-time synchroniser: full sets, slop, bounded queues, partial sets, bad stamps."""

from __future__ import annotations

import numpy as np
import pytest

import importlib.util

from hand_pose_ros.ros.sync import ApproximateSynchronizer, MessageFiltersSynchronizer, SyncConfig, make_synchronizer
from hand_pose_ros.timing import NS_PER_S

MS = 1_000_000  # ns


def make(n=3, **kw):
    return ApproximateSynchronizer(SyncConfig(num_cameras=n, **kw))


def test_full_set_emitted_when_last_camera_arrives_with_jitter():
    sync = make(3, slop=0.005)
    base = 10 * NS_PER_S
    assert sync.add(0, base, "a", 0.0) is None
    assert sync.add(1, base + 2 * MS, "b", 0.0) is None
    out = sync.add(2, base - 1 * MS, "c", 0.0)
    assert out is not None and not out.partial
    assert out.items == ("a", "b", "c")
    assert out.stamp_ns == base - 1 * MS  # capture time = earliest stamp
    assert out.spread_s == pytest.approx(0.003)
    assert sync.emitted == 1 and sync.dropped == 0


def test_stamps_outside_slop_do_not_form_a_set():
    sync = make(2, slop=0.005, partial_timeout=0)
    sync.add(0, 0, "a", 0.0)
    assert sync.add(1, 6 * MS, "b", 0.0) is None
    # The next frame of camera 0 pairs with b; a is older than the set and is dropped.
    out = sync.add(0, 8 * MS, "a2", 0.0)
    assert out.items == ("a2", "b")
    assert sync.dropped == 1


def test_spread_limited_to_slop_not_twice_slop():
    sync = make(3, slop=0.010, partial_timeout=0)
    sync.add(0, 0, "a", 0.0)
    sync.add(1, 18 * MS, "b", 0.0)  # both within 10 ms of 9 ms but 18 ms apart
    assert sync.add(2, 9 * MS, "c", 0.0) is None


def test_queues_are_bounded_and_overflow_is_counted():
    sync = make(2, queue_size=3, partial_timeout=0)
    for k in range(10):
        sync.add(0, k * 100 * MS, k, 0.0)
    assert sync.dropped == 7
    out = sync.add(1, 900 * MS, "x", 0.0)
    assert out.items == (9, "x")
    assert sync.dropped == 7 + 2  # 7 and 8 were older than the set


@pytest.mark.parametrize("stamp_offset, kind", [(0, "duplicate"), (-5 * MS, "backwards")])
def test_duplicate_and_backwards_stamps_are_rejected(stamp_offset, kind):
    sync = make(2)
    sync.add(0, 100 * MS, "a", 0.0)
    with pytest.raises(ValueError, match=kind):
        sync.add(0, 100 * MS + stamp_offset, "again", 0.0)
    assert sync.rejected == 1
    assert sync.add(1, 100 * MS, "b", 0.0).items == ("a", "b")


def test_partial_set_after_timeout_with_min_views():
    sync = make(3, slop=0.005, min_views=2, partial_timeout=0.1)
    sync.add(0, 0, "a", arrival_s=1.0)
    sync.add(1, 1 * MS, "b", arrival_s=1.01)
    assert sync.poll(1.05) is None  # not timed out yet
    out = sync.poll(1.2)
    assert out is not None and out.partial
    assert out.items == ("a", "b", None)
    assert out.stamps_ns == (0, 1 * MS, None)
    assert sync.partial == 1 and sync.last_partial_s == 1.2


def test_partial_needs_min_views_else_drops_the_oldest():
    sync = make(3, min_views=2, partial_timeout=0.1)
    sync.add(0, 0, "a", arrival_s=0.0)
    sync.add(1, 500 * MS, "b", arrival_s=0.5)
    assert sync.poll(0.2) is None  # a alone: dropped
    assert sync.dropped == 1
    assert sync.poll(0.65) is None  # b alone: dropped too
    assert sync.dropped == 2


def test_dead_camera_keeps_sets_flowing():
    sync = make(4, slop=0.005, min_views=3, partial_timeout=0.05)
    sets = []
    for frame in range(20):
        t = frame / 30
        for cam in range(3):  # camera 3 is silent
            sync.add(cam, int(t * NS_PER_S) + cam * MS, (frame, cam), arrival_s=t)
        out = sync.poll(t + 0.06)
        if out is not None:
            sets.append(out)
    assert len(sets) == 20
    assert all(s.partial and s.items[3] is None for s in sets)
    assert [s.items[0][0] for s in sets] == list(range(20))


def test_silent_camera_sets_leave_at_their_deadline_at_the_full_rate():
    # The node's schedule on a simulated clock: poll_all on every arrival, plus a one-shot
    # wake-up at next_deadline(). 30 fps, camera 3 silent, the default 0.1 s timeout.
    rate, seconds = 30.0, 10.0
    sync = make(4, slop=0.005, min_views=2, partial_timeout=0.1)
    emitted: list[tuple[float, object]] = []  # (clock s, set)
    arrivals = sorted((frame / rate + cam * 0.002, frame, cam) for frame in range(int(rate * seconds)) for cam in range(3))
    for arrival, frame, cam in arrivals:
        while (deadline := sync.next_deadline()) is not None and deadline <= arrival:  # the timer fires
            emitted += [(deadline, out) for out in sync.poll_all(deadline)]
        sync.add(cam, round(frame / rate * NS_PER_S) + cam * MS, frame, arrival_s=arrival)
        emitted += [(arrival, out) for out in sync.poll_all(arrival)]
    while (deadline := sync.next_deadline()) is not None:
        emitted += [(deadline, out) for out in sync.poll_all(deadline)]
    frames = [out.items[0] for _, out in emitted]
    assert frames == list(range(int(rate * seconds)))  # every frame, in order: ≥ 29 sets/s
    assert len(frames) / seconds >= 29
    assert all(out.partial and out.items[:3] == (f,) * 3 and out.items[3] is None for f, (_, out) in zip(frames, emitted))
    # Each set leaves when its first image has waited exactly the timeout, not on a polling grid.
    waits = [t - out.stamp_ns / NS_PER_S for t, out in emitted]
    np.testing.assert_allclose(waits, 0.1, atol=1e-6)
    assert sync.dropped == 0 and sync.next_deadline() is None


def test_next_deadline_is_none_without_partial_sets_or_pending_messages():
    assert make(2, partial_timeout=0).next_deadline() is None
    sync = make(2, partial_timeout=0.1)
    assert sync.next_deadline() is None
    sync.add(0, 5 * MS, "a", arrival_s=2.0)
    assert sync.next_deadline() == pytest.approx(2.1)
    assert sync.poll_all(2.05) == []
    assert sync.poll_all(2.1) == [] and sync.dropped == 1  # alone: below min_views, dropped
    assert sync.next_deadline() is None


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="min_views"):
        SyncConfig(num_cameras=2, min_views=3)
    with pytest.raises(ValueError, match="slop"):
        SyncConfig(num_cameras=2, slop=0)


HAS_MESSAGE_FILTERS = importlib.util.find_spec("message_filters") is not None


def test_builtin_is_the_default_and_message_filters_is_used_only_on_request():
    assert SyncConfig(num_cameras=2).implementation == "builtin"
    assert type(make_synchronizer(SyncConfig(num_cameras=2))) is ApproximateSynchronizer
    with pytest.raises(ValueError, match=r"implementation: expected one of \['builtin', 'message_filters'\], got 'fast'"):
        SyncConfig(num_cameras=2, implementation="fast")


@pytest.mark.skipif(HAS_MESSAGE_FILTERS, reason="message_filters is importable here")
def test_message_filters_requested_but_missing_is_refused_with_the_reason():
    config = SyncConfig(num_cameras=2, implementation="message_filters")
    with pytest.raises(ValueError, match="needs ROS 2 message_filters, which is not importable"):
        make_synchronizer(config)


class StandInMessageFilters:
    """A pure-Python stand-in for ROS 2 ``message_filters`` (NOT message_filters itself, which
    is not installable here): SimpleFilter and ApproximateTimeSynchronizer with the documented
    behaviour of its Python implementation: per input a dict stamp → message holding at most
    ``queue_size`` (the smallest stamp is evicted first); on each arrival the first
    combination of queued messages within ``slop`` of the new one whose spread is < ``slop``
    is signalled and only those messages are removed. It tests the adapter's logic only."""

    class SimpleFilter:
        def __init__(self):
            self._callbacks = []

        def registerCallback(self, callback, *args):
            self._callbacks.append((callback, args))

        def signalMessage(self, *msg):
            for callback, args in self._callbacks:
                callback(*(msg + args))

    class ApproximateTimeSynchronizer(SimpleFilter):
        def __init__(self, fs, queue_size, slop):
            super().__init__()
            self.queue_size, self.slop_ns = queue_size, int(slop * NS_PER_S)
            self.queues = [{} for _ in fs]
            for index, f in enumerate(fs):
                f.registerCallback(self.add, self.queues[index], index)

        def add(self, msg, my_queue, my_index):
            import itertools

            from hand_pose_ros.ros.conversions import stamp_to_ns

            stamp = stamp_to_ns(msg.header.stamp)
            my_queue[stamp] = msg
            while len(my_queue) > self.queue_size:
                del my_queue[min(my_queue)]
            candidates = []
            for index, queue in enumerate(self.queues):
                if index == my_index:
                    continue
                near = sorted((s for s in queue if abs(s - stamp) <= self.slop_ns), key=lambda s: abs(s - stamp))
                if not near:
                    return
                candidates.append(near)
            for combo in itertools.product(*candidates):
                combo = list(combo)
                combo.insert(my_index, stamp)
                if max(combo) - min(combo) < self.slop_ns:
                    msgs = [q[t] for q, t in zip(self.queues, combo)]
                    self.signalMessage(*msgs)
                    for q, t in zip(self.queues, combo):
                        del q[t]
                    return


def _bag_loop_sets(sync, frames=40, cameras=4, lost=6):
    """Full sets out of ``sync`` for a 30 Hz rig played twice (a bag loop): before, after.
    The last camera's last ``lost`` frames of the first pass are lost (as best-effort drops),
    so the other cameras end it with queues full of unmatched, old-timeline messages."""
    counts = [0, 0]
    for loop in range(2):
        for frame in range(frames):
            for cam in range(cameras):
                if loop == 0 and cam == cameras - 1 and frame >= frames - lost:
                    continue
                stamp = 100 * NS_PER_S + frame * 33 * MS + cam * MS // 2
                if sync.add(cam, stamp, (loop, frame, cam), 0.0) is not None:
                    counts[loop] += 1
    return counts


def test_adapter_rebuilds_message_filters_on_a_time_jump_with_a_stand_in(monkeypatch):
    """The adapter's rebuild logic, on the stand-in above (message_filters itself never runs here)."""
    config = SyncConfig(num_cameras=4, slop=0.005, queue_size=5, partial_timeout=0)
    assert _bag_loop_sets(ApproximateSynchronizer(config)) == [34, 40]
    adapter = MessageFiltersSynchronizer(config, StandInMessageFilters)
    assert _bag_loop_sets(adapter) == [34, 40]
    assert adapter.time_jumps == 4
    # Without the rebuild, the stand-in's queues keep the old timeline and evict the new one.
    monkeypatch.setattr(MessageFiltersSynchronizer, "_restarted", lambda self, stamp_ns: None)
    # (Only the replayed stamps equal to the stale ones' can still pair: at most a queue's worth.)
    before, after = _bag_loop_sets(MessageFiltersSynchronizer(config, StandInMessageFilters))
    assert before == 34 and after <= config.queue_size


@pytest.mark.skipif(not HAS_MESSAGE_FILTERS, reason="ROS 2 message_filters is not installable here (FIELD_NOTES)")
def test_message_filters_sets_agree_with_the_builtin_ones():
    import message_filters

    rng = np.random.default_rng(0)
    builtin = ApproximateSynchronizer(SyncConfig(num_cameras=3, slop=0.004, partial_timeout=0))
    adapter = MessageFiltersSynchronizer(SyncConfig(num_cameras=3, slop=0.004, partial_timeout=0), message_filters)
    out = {id(builtin): [], id(adapter): []}
    for frame in range(50):
        for cam in rng.permutation(3):
            stamp = frame * 33 * MS + int(rng.integers(0, 3 * MS))
            for sync in (builtin, adapter):
                got = sync.add(int(cam), stamp, (frame, int(cam)), 0.0)
                if got is not None:
                    out[id(sync)].append(got.items)
    assert out[id(builtin)] == out[id(adapter)] and len(out[id(builtin)]) == 50


def test_a_large_jump_back_restarts_the_stream_instead_of_refusing_it():
    sync = make(2, slop=0.005, partial_timeout=0, time_jump=1.0)
    for k in range(3):
        sync.add(0, 10 * NS_PER_S + k * 33 * MS, "old", 0.0)
        sync.add(1, 10 * NS_PER_S + k * 33 * MS, "old", 0.0)
    with pytest.raises(ValueError, match="backwards"):  # a small step back: out of order
        sync.add(0, 10 * NS_PER_S, "late", 0.0)
    assert sync.add(0, 2 * NS_PER_S, "new", 0.0) is None  # 8 s back: the bag looped
    out = sync.add(1, 2 * NS_PER_S, "new", 0.0)
    assert out is not None and out.items == ("new", "new")
    assert sync.time_jumps == 2 and sync.rejected == 1


# --- aligned depth -----------------------------------------------------------------------------------


def _depth_matcher(n=2, slop=0.005, queue_size=3):
    from hand_pose_ros.ros.sync import DepthMatcher

    return DepthMatcher(num_cameras=n, slop=slop, queue_size=queue_size)


def test_depth_joins_its_cameras_set_by_stamp_whenever_it_arrived():
    matcher = _depth_matcher()
    base = 10 * NS_PER_S
    for cam in range(2):
        matcher.colour(cam, base)
    assert matcher.add(0, base + 1 * MS, "d0", 0.0) == ""  # within slop of camera 0's colour stamp
    assert matcher.add(1, base + 40 * MS, "d1-next", 0.0) == ""  # the next frame's: not this set's
    assert matcher.take([base, base], 0.0)[0] == ["d0", None]
    assert matcher.matched == 1
    # Camera 1's later frame still joins the set it belongs to.
    assert matcher.take([None, base + 40 * MS], 0.0)[0] == [None, "d1-next"]


def test_missing_colour_camera_or_missing_depth_gives_none_and_nearest_depth_wins():
    matcher = _depth_matcher(queue_size=5)
    base = 10 * NS_PER_S
    for offset, name in ((-4, "early"), (1, "near"), (4, "late")):
        matcher.add(0, base + offset * MS, name, 0.0)
    assert matcher.take([base, None], 0.0)[0] == ["near", None]
    assert matcher.dropped == 1  # "early": a duplicate of the set's depth
    assert matcher.take([base + 4 * MS, None], 0.0)[0] == ["late", None]
    assert matcher.take([base + 40 * MS, None], 0.0) == ([None, None], [])


def test_depth_of_skipped_sets_is_let_go_and_the_queue_is_bounded():
    matcher = _depth_matcher(queue_size=2)
    base = 10 * NS_PER_S
    for k in range(3):  # sets 0 and 1 skipped by the latest-wins worker; set 2 processed
        matcher.colour(0, base + k * 33 * MS)
        assert matcher.add(0, base + k * 33 * MS, f"d{k}", 0.0) == ""
    assert matcher.dropped == 1  # d0 pushed out of the queue of 2
    assert matcher.take([base + 66 * MS, None], 0.0)[0] == ["d2", None]
    assert matcher.dropped == 2 and matcher.refused == 0


def test_depth_from_long_before_the_colour_stream_is_refused_on_arrival():
    matcher = _depth_matcher()
    base = 10 * NS_PER_S
    assert matcher.add(0, base - 2 * NS_PER_S, "before any colour image: kept", 0.0) == ""
    matcher.colour(0, base)
    problem = matcher.add(0, base - 2 * NS_PER_S, "from another time", 0.0)
    assert "is 2000.0 ms before the camera's latest colour image (at most 500 ms apart): from another time" in problem
    # Ahead of the latest colour image is normal on arrival (depth first, after a pause).
    assert matcher.add(0, base + 3 * NS_PER_S, "the next set's, 3 s later", 0.0) == ""
    assert matcher.refused == 1


def test_depth_from_long_after_a_sets_colour_image_is_refused_when_the_set_is_taken():
    matcher = _depth_matcher(queue_size=5)
    base = 10 * NS_PER_S
    matcher.add(1, base + 2 * MS, "this set's", 0.0)
    matcher.add(1, base + 750 * MS, "a clock 0.75 s ahead", 0.0)
    depths, refused = matcher.take([None, base], 0.0)
    assert depths == [None, "this set's"] and [camera for camera, _ in refused] == [1]
    assert "is 750.0 ms after the camera's colour image in its set (at most 500 ms apart)" in refused[0][1]
    assert matcher.take([None, base + 750 * MS], 0.0) == ([None, None], [])  # gone, not kept for later


def test_depth_wait_lets_a_live_streams_late_frame_join_and_never_waits_for_a_dead_one():
    import threading

    from hand_pose_ros.ros.sync import DEPTH_LIVE_S, DepthMatcher

    matcher = DepthMatcher(num_cameras=2, slop=0.005, queue_size=3, wait_s=30.0)  # ends by the frame, not the clock
    base = 10 * NS_PER_S
    matcher.add(0, base - 33 * MS, "cam0 previous", 100.0)  # both streams live at 100 s
    matcher.add(1, base - 33 * MS, "cam1 previous", 100.0)
    matcher.add(1, base, "cam1 now", 100.0)
    late = threading.Timer(0.05, lambda: matcher.add(0, base + 1 * MS, "cam0 late", 100.05))
    late.start()
    depths, _ = matcher.take([base, base], 100.01)  # returns once cam0's frame is there
    late.join()
    assert depths == ["cam0 late", "cam1 now"]
    # cam0's stream died (its last frame long ago): no wait for it, the set goes without
    # (had take waited, the frame arriving meanwhile would have joined).
    later = 100.0 + DEPTH_LIVE_S + 1
    matcher.add(1, base + 33 * MS, "cam1 next", later)
    meanwhile = threading.Timer(0.3, lambda: matcher.add(0, base + 33 * MS, "cam0 back", later))
    meanwhile.start()
    assert matcher.take([base + 33 * MS, base + 33 * MS], later)[0] == [None, "cam1 next"]
    meanwhile.join()


def test_without_depth_wait_a_late_frame_misses_its_set():
    matcher = _depth_matcher()
    base = 10 * NS_PER_S
    matcher.add(0, base - 33 * MS, "previous", 100.0)
    assert matcher.take([base, None], 100.01)[0] == [None, None]
