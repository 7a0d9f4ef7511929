"""The project's own tests run on several xdist workers (scripts/run-tests). A test module that starts its own lab
(module-scoped fixtures) runs whole on one worker, so no lab is started twice; the fault-matrix rows, which each
run the suite against the one lab of their worker's session, spread over all workers."""
import pytest

SPREAD = ("tests/faults/",)


@pytest.hookimpl(tryfirst=True)         # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not item.nodeid.startswith(SPREAD):
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
