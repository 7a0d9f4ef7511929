"""proxqa.kube.watching against the lab's API server: a change wakes a waiting check, other changes do not, a
change made before the watch is connected is not lost, and a watch that cannot run leaves the wait polling."""
import threading

import pytest

from proxqa.kube.client import KubeClient, KubeError
from proxqa.kube.watching import RESYNC, Changes, Watched, wait_watching
from proxqa.waits import Deadline, WaitTimeout

from .conftest import module_server
from .helpers import MERGE, configmap

POLL = 0.05
QUIET = 0.3         # seconds a wait is given to show that nothing woke it
WATCH_WINDOW = 5    # changes the module's server keeps for watches to resume from


@pytest.fixture(scope="module")
def kube(tmp_path_factory):
    yield from module_server(tmp_path_factory, "--watch-window", str(WATCH_WINDOW))


@pytest.fixture(scope="module")
def suite_kube(kube) -> KubeClient:
    return KubeClient(kube.kubeconfig, "management cluster")


def patch(core, namespace: str, name: str, value: str) -> None:
    core.patch_namespaced_config_map(name, namespace, {"data": {"key": value}}, _content_type=MERGE)


def watch_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("watch ")]


def test_a_change_of_the_watched_object_wakes_the_wait_and_others_do_not(suite_kube, core, namespace):
    for name in ("watched", "other"):
        core.create_namespaced_config_map(namespace, configmap(name))
    with Changes([Watched(suite_kube, "v1", "ConfigMap", namespace, name="watched")], POLL) as changes:
        patch(core, namespace, "other", "1")
        assert not changes.wait(QUIET)
        patch(core, namespace, "watched", "1")
        assert changes.wait(RESYNC)
        assert not changes.wait(QUIET), "one change wakes one wait"
        assert not changes.broken
    assert not watch_threads()


def test_a_label_selector_wakes_on_matching_objects_only(suite_kube, core, namespace):
    with Changes([Watched(suite_kube, "v1", "ConfigMap", namespace, selector="app=qa")], POLL) as changes:
        core.create_namespaced_config_map(namespace, configmap("unlabelled"))
        assert not changes.wait(QUIET)
        core.create_namespaced_config_map(namespace, {**configmap("labelled"),
                                                      "metadata": {"name": "labelled", "labels": {"app": "qa"}}})
        assert changes.wait(RESYNC)


def test_a_change_between_the_list_and_the_watch_is_not_lost(suite_kube, core, namespace, monkeypatch):
    core.create_namespaced_config_map(namespace, configmap("early"))
    connect = suite_kube.watch

    def change_first(*args, **options):         # the change lands after the list, before the watch is open
        monkeypatch.setattr(suite_kube, "watch", connect)
        patch(core, namespace, "early", "1")
        return connect(*args, **options)

    monkeypatch.setattr(suite_kube, "watch", change_first)
    with Changes([Watched(suite_kube, "v1", "ConfigMap", namespace, name="early")], POLL) as changes:
        assert changes.wait(RESYNC)
        assert not changes.broken


def test_a_resource_version_too_old_to_resume_from_counts_as_a_change(suite_kube, core, namespace, monkeypatch):
    core.create_namespaced_config_map(namespace, configmap("busy"))
    listed = [suite_kube.resource_version("v1", "ConfigMap", namespace)]
    for value in range(WATCH_WINDOW * 3):               # the server forgets that version
        patch(core, namespace, "busy", str(value))
    current = suite_kube.resource_version
    monkeypatch.setattr(suite_kube, "resource_version", lambda *args: listed.pop() if listed else current(*args))
    with Changes([Watched(suite_kube, "v1", "ConfigMap", namespace, name="quiet")], POLL) as changes:
        assert changes.wait(RESYNC), "the watch got 410 Expired: it listed again, and the wait looks again in case"
        assert not changes.broken
        assert not changes.wait(QUIET)


def test_the_wait_looks_again_when_the_watch_reports_the_state(suite_kube, core, namespace, monkeypatch):
    core.create_namespaced_config_map(namespace, configmap("target"))
    looks, woken = [], []
    plain_wait = Changes.wait
    monkeypatch.setattr(Changes, "wait", lambda self, seconds=RESYNC: woken.append(plain_wait(self, seconds))
                        or woken[-1])

    def probe():
        looks.append(1)
        if len(looks) == 1:
            threading.Timer(0.1, patch, (core, namespace, "target", "done")).start()
        return suite_kube.get("v1", "ConfigMap", "target", namespace)

    found = wait_watching([Watched(suite_kube, "v1", "ConfigMap", namespace, name="target")], "target done", probe,
                          done=lambda cm: cm["data"]["key"] == "done", deadline=Deadline(RESYNC * 3))
    assert found["data"]["key"] == "done"
    assert (len(looks), woken) == (2, [True]), "the first look, then one woken by the change, not by the clock"


def test_a_field_selector_narrows_what_wakes_the_wait(suite_kube, core, namespace):
    with Changes([Watched(suite_kube, "v1", "ConfigMap", namespace, fields="metadata.name=wanted")], POLL) as changes:
        core.create_namespaced_config_map(namespace, configmap("unwanted"))
        assert not changes.wait(QUIET)
        core.create_namespaced_config_map(namespace, configmap("wanted"))
        assert changes.wait(RESYNC)


def test_the_deadline_still_holds_while_nothing_changes(suite_kube, core, namespace):
    core.create_namespaced_config_map(namespace, configmap("still"))
    with pytest.raises(WaitTimeout, match=r"still changed: not reached within 0.5 s \(last state: 'value'\)"):
        wait_watching([Watched(suite_kube, "v1", "ConfigMap", namespace, name="still")], "still changed",
                      lambda: suite_kube.get("v1", "ConfigMap", "still", namespace)["data"]["key"],
                      done=lambda value: value != "value", deadline=Deadline(0.5))


def test_a_watch_that_cannot_start_leaves_the_wait_polling(suite_kube, namespace):
    with Changes([Watched(suite_kube, "example.com/v1", "Widget", namespace)], POLL) as changes:
        assert "Widget" in changes.broken
        changes.wait(RESYNC)                    # the break itself wakes the wait once
        slept = spy_on_sleep(changes)
        assert not changes.wait(RESYNC)
        assert slept[0] <= POLL, "sleeps until the next look's turn, not the whole pause"


def test_a_watch_refused_twice_in_a_row_leaves_the_wait_polling(suite_kube, core, namespace, monkeypatch):
    def refused(*args, **options):
        raise KubeError("WATCH", "ConfigMap", namespace, 403, "Forbidden", "cannot watch configmaps")

    monkeypatch.setattr(suite_kube, "watch", refused)
    with Changes([Watched(suite_kube, "v1", "ConfigMap", namespace)], POLL) as changes:
        assert changes.wait(RESYNC), "the first refusal: listed again, look again in case"
        changes.wait(RESYNC)
        assert "403 Forbidden" in changes.broken
        slept = spy_on_sleep(changes)
        assert not changes.wait(RESYNC)
        assert slept[0] <= POLL


def spy_on_sleep(changes: Changes) -> list[float]:
    """The timeouts the Changes' sleeps are given, from now on."""
    slept, plain = [], changes._changed.wait
    changes._changed.wait = lambda timeout: slept.append(timeout) or plain(timeout)
    return slept
