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


@pytest.fixture(scope="session")
def digits_checkpoint(tmp_path_factory):
    """One small trained checkpoint (fashion_cnn on 64 Digits images, 1 epoch) for the tests that
    read, copy or craft from it; none writes to it."""
    pytest.importorskip("sklearn")
    from cnnlab.train.run import train_job

    out = tmp_path_factory.mktemp("digits-run")
    train_job(dataset="digits", epochs=1, train_limit=64, schedule="none", out=str(out),
              progress=False, log=lambda *a: None)
    return out / "last.npz"


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test touches the network: a download attempt fails as it would on an offline machine."""
    import urllib.error
    import urllib.request

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


# ---------------------------------------------------------------------- devices
# Every oracle test (one that calls check_against_torch or gradcheck, directly or through a helper
# of its module) and every test that asks for the ``device`` fixture runs once per device: "cpu"
# always, "cuda" when CuPy sees a GPU, else skipped with the reason. helpers.py puts the inputs on
# the device.
def _cuda_skip_reason():
    from cnnlab import backend

    if backend.cuda_available():
        return None
    try:
        import cupy  # noqa: F401
    except Exception:
        return "cuda: CuPy is not installed (pip install 'cnnlab[cuda]')"
    return "cuda: CuPy sees no GPU"


_ORACLES = {"check_against_torch", "gradcheck"}


def _calls_oracle(fn, module, depth=2):
    """Whether ``fn``'s code names an oracle helper, itself or through module-level functions."""
    code = getattr(fn, "__code__", None)
    if code is None or depth < 0:
        return False
    names = set(code.co_names)
    for const in code.co_consts:  # nested functions and lambdas inside the test
        if hasattr(const, "co_names"):
            names |= set(const.co_names)
    if names & _ORACLES:
        return True
    local = [getattr(module, n) for n in names if callable(getattr(module, n, None))]
    return any(_calls_oracle(f, module, depth - 1) for f in local
               if getattr(f, "__module__", None) == module.__name__)


def pytest_generate_tests(metafunc):
    wants = "device" in metafunc.fixturenames
    if not wants and not _calls_oracle(metafunc.function, metafunc.module):
        return
    if not wants:
        metafunc.fixturenames.append("device")  # so the oracle test gets the fixture below
    reason = _cuda_skip_reason()
    cuda = pytest.param("cuda", marks=pytest.mark.skip(reason=reason)) if reason else "cuda"
    metafunc.parametrize("device", ["cpu", cuda], indirect=True)


@pytest.fixture
def device(request):
    """The device a test runs on ("cpu" or "cuda"); the oracle helpers put their inputs there."""
    import helpers

    name = getattr(request, "param", "cpu")
    previous, helpers.DEVICE = helpers.DEVICE, name
    yield name
    helpers.DEVICE = previous


@pytest.fixture
def small_scenes(monkeypatch):
    """mnist-scenes of 40 train and 12 test scenes (a checkpoint's test set, read again by the CLI)."""
    from cnnlab.data import scenes

    monkeypatch.setattr(scenes, "DEFAULT_SCENES", {True: 40, False: 12})
