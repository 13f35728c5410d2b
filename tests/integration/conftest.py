import os

import pytest

import harness


@pytest.fixture
def cluster():
    c = harness.Cluster()
    try:
        yield c
    finally:
        c.cleanup()


@pytest.fixture
def node(cluster):
    return cluster.node()


def pytest_report_header(config):
    return "swarmd: %s; docker CLIs: %s" % (harness.SWARMD, ", ".join(harness.CLIS))


def pytest_sessionstart(session):
    if not os.access(harness.SWARMD, os.X_OK):
        raise pytest.UsageError("no swarmd binary at %s (set SWARMD_BIN)" % harness.SWARMD)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows the end of each live node's log: a flake in CI
    is then explained by its own output."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for c in harness.LIVE_CLUSTERS:
        for n in c.nodes:
            report.sections.append(("swarmd log of %s (%s)" % (n.name, n.addr),
                                    n.log_tail()))
