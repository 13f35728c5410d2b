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
