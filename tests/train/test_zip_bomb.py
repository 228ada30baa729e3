"""A crafted archive cannot make a loader decompress more than it declares: a 3 MB checkpoint
that inflates to 3 GB is refused in one line, at once, without the memory; members the header
does not name, and members whose sizes disagree with their .npy header, are refused too."""

import io
import json
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest

import cnnlab
from cnnlab.runs.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

MB = 2 ** 20


def _npy_header(shape, descr="<f4"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue()


def _bomb_member(megabytes):
    """(raw deflate data, crc, uncompressed size) of a .npy member: a float32 array of zeros of
    ``megabytes`` MB behind a correct header. Deflate blocks after a full flush refer to nothing
    before them, so the compressed block of one MB of zeros (about 1 KB) is repeated."""
    header = _npy_header((megabytes * MB // 4,))
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = first.compress(header) + first.flush(zlib.Z_FULL_FLUSH)
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(MB)
    one_mb = block.compress(zeros) + block.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # the final (empty) block
    crc = zlib.crc32(header)
    for _ in range(megabytes):
        crc = zlib.crc32(zeros, crc)
    return head + one_mb * megabytes + end, crc, len(header) + megabytes * MB


def _write_zip(path, entries):
    """A zip of ``(name, method, crc, data, uncompressed size)`` entries, written byte by byte
    (zipfile cannot store data that is already compressed)."""
    out, central = io.BytesIO(), []
    for name, method, crc, data, size in entries:
        offset, raw = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc,
                              len(data), size, len(raw), 0) + raw + data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21,
                                   crc, len(data), size, len(raw), 0, 0, 0, 0, 0, offset) + raw)
    start = out.tell()
    directory = b"".join(central)
    out.write(directory + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries),
                                      len(directory), start, 0))
    path.write_bytes(out.getvalue())
    return path


def _stored(name, data):
    return (name, zipfile.ZIP_STORED, zlib.crc32(data), data, len(data))


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return [_stored(n, zf.read(n)) for n in zf.namelist()]


@pytest.fixture(scope="module")
def good(digits_checkpoint):
    return digits_checkpoint


@pytest.fixture(scope="module")
def bomb(good, tmp_path_factory):
    """The good checkpoint plus a 3 GB member (3.1 MB compressed) that its header never names."""
    data, crc, size = _bomb_member(3000)
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    _write_zip(path, _members(good) + [("/model/bomb.npy", zipfile.ZIP_DEFLATED, crc, data, size)])
    return path


def test_the_construction_is_a_real_zip_that_inflates(good, tmp_path):
    data, crc, size = _bomb_member(4)
    path = _write_zip(tmp_path / "small.npz",
                      _members(good) + [("/model/bomb.npy", zipfile.ZIP_DEFLATED, crc, data, size)])
    with np.load(path) as archive:  # NumPy reads it: the member inflates and its CRC holds
        assert archive["/model/bomb"].shape == (MB,) and not archive["/model/bomb"].any()
    assert len(data) < size / 900


def test_a_3_mb_checkpoint_that_inflates_to_3_gb_is_refused_at_once(bomb):
    assert 2.5 * MB < bomb.stat().st_size < 4 * MB
    # The child's own peak: VmHWM belongs to its address space, whereas ru_maxrss survives fork and
    # exec on Linux and would report the (large) pytest process that started it.
    child = ("import sys, time\n"
             "from cnnlab.cli import main\n"
             "start = time.perf_counter()\n"
             "code = main(['evaluate', sys.argv[1]])\n"
             "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
             "print(code, time.perf_counter() - start, int(hwm.split()[1]) * 1024)\n")
    done = subprocess.run([sys.executable, "-c", child, str(bomb)], capture_output=True,
                          text=True, timeout=300)
    code, seconds, peak = done.stdout.split()
    err = done.stderr.strip()
    assert int(code) == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"cnnlab evaluate: error: load_checkpoint: {str(bomb)!r} is not a valid "
                          "cnnlab checkpoint: array '/model/bomb' would expand from ")
    assert "a zip bomb?" in err
    assert float(seconds) < 10
    assert int(peak) < 1024 * MB, f"peak RSS {int(peak) / MB:.0f} MB"  # the member holds 3000


def test_cnnlab_load_refuses_the_same_bomb(tmp_path):
    data, crc, size = _bomb_member(3000)
    path = _write_zip(tmp_path / "bomb.npz",
                      [("w.npy", zipfile.ZIP_DEFLATED, crc, data, size)])
    with pytest.raises(ValueError, match=r"^load: '.*bomb\.npz' cannot be read safely: array 'w' "
                                         r"would expand from [\d,]+ to [\d,]+ bytes"):
        cnnlab.load(path)


def test_a_member_the_header_never_names_is_refused(good, tmp_path):
    extra = _npy_header((4,)) + bytes(16)
    path = _write_zip(tmp_path / "extra.npz", _members(good) + [_stored("/model/x.npy", extra)])
    with pytest.raises(CheckpointError, match=r"it holds 1 array\(s\) its header never names "
                                              r"\('/model/x'\)$"):
        load_checkpoint(path)
    cnnlab.save({"w": cnnlab.zeros(2)}, tmp_path / "saved.npz")
    path = _write_zip(tmp_path / "saved-extra.npz",
                      _members(tmp_path / "saved.npz") + [_stored("1.npy", extra)])
    with pytest.raises(ValueError, match=r"cannot be read safely: it holds 1 array\(s\) its header never "
                                         r"names \('1'\)$"):
        cnnlab.load(path)


@pytest.mark.parametrize("change", ["trailing bytes", "short data", "deflated too well"])
def test_a_member_whose_sizes_disagree_with_its_header_is_refused(tmp_path, change):
    state = {"w": np.arange(1000, dtype=np.float32)}
    save_checkpoint(tmp_path / "ok.npz", state)
    entries = _members(tmp_path / "ok.npz")
    index = next(i for i, e in enumerate(entries) if e[0] == "/w.npy")
    data = entries[index][3]
    if change == "trailing bytes":
        entries[index] = _stored("/w.npy", data + bytes(64))
    elif change == "short data":
        entries[index] = _stored("/w.npy", data[:-64])
    else:  # deflated, and the directory claims 200 times its compressed size
        packed = zlib.compress(data, 9)[2:-4]
        entries[index] = ("/w.npy", zipfile.ZIP_DEFLATED, zlib.crc32(data), packed,
                          200 * len(packed) + 2 * MB)
    path = _write_zip(tmp_path / "changed.npz", entries)
    with pytest.raises(CheckpointError, match=r"array '/w' (claims shape|would expand)"):
        load_checkpoint(path)


def test_savez_compressed_archives_still_load(tmp_path):
    weights = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    np.savez_compressed(tmp_path / "plain.npz", w=weights, z=np.zeros(10))
    loaded = cnnlab.load(tmp_path / "plain.npz")
    assert np.array_equal(loaded["w"].numpy(), weights) and not loaded["z"].numpy().any()
    assert json.dumps(sorted(loaded)) == '["w", "z"]'
