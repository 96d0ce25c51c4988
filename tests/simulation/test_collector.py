"""The run's garbage-collector policy is set for the run and undone after it."""

from __future__ import annotations

import gc
import threading

import pytest

from beliefreg.simulation.collector import YOUNG_THRESHOLD, fewer_collections


@pytest.fixture(autouse=True)
def _restore_gc():
    threshold, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.set_threshold(*threshold)
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


def test_freezes_and_raises_the_threshold_then_restores():
    gc.set_threshold(700, 10, 10)
    assert gc.get_freeze_count() == 0
    with fewer_collections():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
        with fewer_collections():  # nested: one policy, undone by the outer block
            assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_after_an_error():
    gc.set_threshold(500, 7, 3)
    with pytest.raises(RuntimeError):
        with fewer_collections():
            raise RuntimeError("boom")
    assert gc.get_threshold() == (500, 7, 3) and gc.get_freeze_count() == 0


def test_cycles_made_during_the_run_are_still_collected():
    class Node:
        pass

    with fewer_collections():
        a, b = Node(), Node()
        a.other, b.other = b, a
        import weakref

        ref = weakref.ref(a)
        del a, b
        gc.collect()
        assert ref() is None


def test_an_application_freeze_and_a_disabled_collector_are_left_alone(monkeypatch):
    calls = []
    freeze, unfreeze = gc.freeze, gc.unfreeze
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze") or freeze())
    monkeypatch.setattr(gc, "unfreeze", lambda: calls.append("unfreeze") or unfreeze())
    freeze()
    with fewer_collections():
        pass
    # not frozen again nor unfrozen by the run (the count itself is not compared: a frozen
    # object freed meanwhile, by another test's thread say, leaves the permanent generation)
    assert calls == [] and gc.get_freeze_count() > 0
    unfreeze()
    gc.disable()
    gc.set_threshold(700, 10, 10)
    with fewer_collections():
        assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0
    assert not gc.isenabled()


def test_runs_in_several_threads_restore_once_the_last_ends():
    gc.set_threshold(700, 10, 10)
    inside, release = threading.Event(), threading.Event()

    def other_run():
        with fewer_collections():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=other_run)
    with fewer_collections():
        t.start()
        inside.wait(10)
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD  # the other run still goes on
    release.set()
    t.join()
    assert gc.get_threshold() == (700, 10, 10) and gc.get_freeze_count() == 0
