"""Downloads end: an overall deadline, however slow the trickle; no empty folder after a failure."""

import os

import pytest

from cnnlab.data import download as dl
from cnnlab.data.download import DownloadError, download_resource, download_url


class Trickle:
    """A response that hands out one byte per read and never ends."""

    headers = {}

    def read1(self, n):
        return b"x"

    read = read1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_trickling_server_hits_the_overall_deadline(tmp_path, monkeypatch):
    clock = iter(range(0, 10 ** 6, 2))  # every look at the clock: two seconds later
    monkeypatch.setattr(dl.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(dl.urllib.request, "urlopen", lambda request, timeout=None: Trickle())
    message = (r"^download_url: https://host/f.bin did not finish within the 60 s deadline "
               r"\(30 bytes received\); the file was deleted$")
    with pytest.raises(DownloadError, match=message):
        download_url("https://host/f.bin", tmp_path / "f.bin", progress=False, deadline=60)
    assert os.listdir(tmp_path) == []


def test_failed_download_removes_the_folders_it_made(tmp_path, monkeypatch):
    def offline(request, timeout=None):
        raise OSError("network disabled")

    monkeypatch.setattr(dl.urllib.request, "urlopen", offline)
    target = tmp_path / "data" / "mnist"
    with pytest.raises(DownloadError, match="network disabled"):
        download_resource("mnist", "train-images-idx3-ubyte.gz", target, progress=False)
    assert os.listdir(tmp_path) == []  # neither data/ nor data/mnist/ is left behind
    (tmp_path / "kept").mkdir()
    with pytest.raises(DownloadError):
        download_resource("mnist", "train-images-idx3-ubyte.gz", tmp_path / "kept", progress=False)
    assert (tmp_path / "kept").is_dir()  # a folder that was there before stays


def test_a_directory_where_a_data_file_should_be_is_named(tmp_path, capsys):
    from cnnlab.cli import main

    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").mkdir(parents=True)
    assert main(["train", "--dataset", "mnist", "--data-dir", str(tmp_path), "--no-fallback",
                 "--no-progress", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    folder = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    assert err == (f"cnnlab train: error: find_file: '{folder}' is a directory where the data file "
                   f"train-images-idx3-ubyte.gz should be; remove or rename it")
