import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # for `from helpers import ...`


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def data_dir():
    """The real datasets (``$CNNLAB_DATA``); tests that need them skip when it is not set."""
    path = os.environ.get("CNNLAB_DATA")
    if not path or not os.path.isdir(path):
        pytest.skip("CNNLAB_DATA is not set to the shared datasets directory")
    return path


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test touches the network: a download attempt fails as it would on an offline machine."""
    import urllib.error
    import urllib.request

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
