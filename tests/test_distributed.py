"""cnnlab.distributed: the single-process no-ops, the sampler against PyTorch's, SyncBatchNorm's
maths against PyTorch's batch norm, and data-parallel runs under ``mpiexec -n 2`` / ``-n 3``."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from cnnlab import distributed as dist
from cnnlab import models, nn
from cnnlab.data import DataLoader, TensorDataset
from cnnlab.tensor import Tensor

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "distributed_worker.py")
SRC = os.path.join(os.path.dirname(HERE), "src")


def _mpi_missing():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed (pip install cnnlab[mpi])"
    if shutil.which("mpiexec") is None:
        return "no mpiexec on PATH (pip install cnnlab[mpi] installs MPICH's)"
    return None


needs_mpi = pytest.mark.skipif(_mpi_missing() is not None, reason=str(_mpi_missing()))


def _env(**extra):
    """The environment for child processes: this checkout's sources first, one thread per rank."""
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "CNNLAB_NUM_THREADS",
                 "NUMBA_NUM_THREADS"):
        env[name] = "1"
    env["MPLBACKEND"] = "Agg"
    for name in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        env.pop(name, None)
    env.update(extra)
    return env


def _run(cmd, timeout=120, **env):
    return subprocess.run(cmd, env=_env(**env), capture_output=True, text=True, timeout=timeout)


def _mpiexec(n, *args, timeout=120):
    return _run(["mpiexec", "-n", str(n), *args], timeout=timeout)


def _worker(ranks, scenario, out, *args):
    """Run a worker scenario (``ranks`` None: one plain process); returns rank 0's result.json."""
    cmd = [sys.executable, WORKER, scenario, str(out), *map(str, args)]
    proc = _mpiexec(ranks, *cmd) if ranks else _run(cmd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(os.path.join(out, "result.json")) as f:
        return json.load(f)


# ---------------------------------------------------------------------------- one process
def test_single_process_is_a_world_of_one_and_every_call_is_a_no_op(rng):
    assert dist.init() == 1 and dist.world_size() == 1 and dist.rank() == 0 and dist.is_main()
    net = models.get("lenet5")
    x = Tensor(rng.standard_normal((4, 1, 28, 28)).astype(np.float32))
    nn.CrossEntropyLoss()(net(x), Tensor(np.array([0, 1, 2, 3]))).backward()
    grads = [p.grad._data.copy() for p in net.parameters()]
    before = dist.parameters_digest(net)
    dist.broadcast_parameters(net)
    assert dist.all_reduce_gradients(net) is None
    assert dist.parameters_digest(net) == before
    assert all(np.array_equal(g, p.grad.data) for g, p in zip(grads, net.parameters()))
    a = np.arange(3.0)
    assert dist.all_reduce(a) is a and a.tolist() == [0.0, 1.0, 2.0]
    assert dist.all_gather(a).tolist() == [0.0, 1.0, 2.0]
    assert dist.check_consistent({"seed": 3}) == {"seed": 3}
    dist.barrier()


def test_launched_size_reads_the_launchers_environment():
    assert dist.launched_size({}) == 1
    assert dist.launched_size({"PMI_SIZE": "4", "PMI_RANK": "2"}) == 4
    assert dist.launched_size({"OMPI_COMM_WORLD_SIZE": "3"}) == 3
    assert dist.local_size({"PMI_SIZE": "8", "MPI_LOCALNRANKS": "4"}) == 4


def test_multi_process_launch_without_mpi4py_says_what_to_install(tmp_path):
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "from cnnlab import distributed\n"
            "try:\n    distributed.init()\nexcept ImportError as e:\n    print(e)\n")
    proc = _run([sys.executable, "-c", code], PMI_SIZE="2", PMI_RANK="0")
    expected = "one of 2 ranks but mpi4py is not installed: pip install cnnlab[mpi]"
    assert expected in proc.stdout, proc.stderr
    # The command line: one line, exit status 1 (as for every missing optional package).
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "from cnnlab import cli\nsys.exit(cli.main(sys.argv[1:]))")
    proc = _run([sys.executable, "-c", code, "train", "--out", str(tmp_path)],
                PMI_SIZE="2", PMI_RANK="0")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "cnnlab train: error: distributed.init: this process was started by an MPI launcher as "
        "one of 2 ranks but mpi4py is not installed: pip install cnnlab[mpi]"]


@pytest.mark.parametrize("n", [1, 2, 10, 11, 12])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_shards_as_pytorchs_distributed_sampler(n, replicas, drop_last):
    ds = list(range(n))
    for r in range(replicas):
        kw = dict(num_replicas=replicas, rank=r, shuffle=False, drop_last=drop_last)
        ours = dist.DistributedSampler(ds, **kw)
        theirs = torch.utils.data.DistributedSampler(ds, **kw)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_sampler_shards_are_one_global_shuffle_the_single_process_loader_draws():
    ds = TensorDataset(np.zeros((11, 1), np.float32), np.arange(11))
    loader = DataLoader(ds, batch_size=11, shuffle=True, seed=4)
    samplers = [dist.DistributedSampler(ds, num_replicas=3, rank=r, seed=4) for r in range(3)]
    orders = []
    for epoch in range(3):
        (_, labels), = list(loader)
        order = labels.data.tolist()
        padded = order + order[:1]               # 11 -> 12 = 3 x 4: the first index again
        for r, s in enumerate(samplers):
            s.set_epoch(epoch)
            assert list(s) == padded[r::3]
        orders.append(order)
    assert orders[0] != orders[1] and sorted(orders[2]) == list(range(11))
    samplers[0].set_epoch(1)                     # an earlier epoch (a resume) replays its shuffle
    assert list(samplers[0]) == (orders[1] + orders[1][:1])[0::3]


def test_sampler_and_loader_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"DistributedSampler: `rank` must be an int in \[0, 2\]. "
                                         r"Received: rank=3"):
        dist.DistributedSampler(range(5), num_replicas=3, rank=3)
    with pytest.raises(ValueError, match=r"DistributedSampler: `num_replicas` must be a positive "
                                         r"int. Received: num_replicas=0"):
        dist.DistributedSampler(range(5), num_replicas=0, rank=0)
    with pytest.raises(ValueError, match=r"set_epoch: `epoch` must be a non-negative int. "
                                         r"Received: epoch=-1"):
        dist.DistributedSampler(range(5)).set_epoch(-1)
    with pytest.raises(TypeError, match=r"DistributedSampler: `seed` must be an int. "
                                        r"Received: seed=1.5"):
        dist.DistributedSampler(range(5), seed=1.5)
    ds = TensorDataset(np.zeros((4, 1), np.float32))
    with pytest.raises(ValueError, match="DataLoader: `sampler` gives the order; it cannot be "
                                         "combined with shuffle=True"):
        DataLoader(ds, shuffle=True, sampler=dist.DistributedSampler(ds))
    with pytest.raises(TypeError, match="DataLoader: `sampler` must be a sized iterable of "
                                        "indices. Received int"):
        DataLoader(ds, sampler=5)


def test_collectives_and_sync_batch_norm_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"all_reduce: `op` must be one of ReduceOp.SUM, "
                                         r"ReduceOp.AVG, .*ReduceOp.BXOR \(or its lower-case "
                                         r"name\). Received: op='mean'"):
        dist.all_reduce(np.ones(2), op="mean")
    with pytest.raises(ValueError, match=r"SyncBatchNorm: `input` must have at least 2 dimensions "
                                         r"\(N, C, \*\). Received shape \(3,\)"):
        dist.SyncBatchNorm(3)(Tensor(np.ones(3, np.float32)))


def test_shard_indices_cover_every_index_once_without_padding():
    shards = [dist.shard_indices(10, 3, r).tolist() for r in range(3)]
    assert shards == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    assert [len(dist.shard_indices(2, 3, r)) for r in range(3)] == [0, 1, 1]


@pytest.mark.parametrize("shape", [(6, 3), (5, 4, 3, 2)])
def test_sync_batch_norm_maths_matches_pytorch_batch_norm(rng, shape):
    """With one rank the all-reduced sums are the local ones: forward, running statistics and every
    gradient must then equal PyTorch's batch norm (float64, random upstream gradient)."""
    x = rng.standard_normal(shape) * 3 + 1
    w, b = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    g = rng.standard_normal(shape)
    rm, rv = np.zeros(shape[1]), np.ones(shape[1])
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    rmt, rvt = torch.zeros(shape[1], dtype=torch.float64), torch.ones(shape[1], dtype=torch.float64)
    yt = torch.nn.functional.batch_norm(xt, rmt, rvt, wt, bt, training=True, momentum=0.3, eps=1e-5)
    yt.backward(torch.tensor(g))
    xs, ws, bs = (Tensor(a, requires_grad=True) for a in (x, w, b))
    y = dist._SyncBatchNormFn.apply(xs, ws, bs, running_mean=rm, running_var=rv, momentum=0.3,
                                    eps=1e-5)
    y.backward(Tensor(g))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rm, rmt.numpy(), rtol=1e-10)
    np.testing.assert_allclose(rv, rvt.numpy(), rtol=1e-10)
    for ours, theirs in ((xs, xt), (ws, wt), (bs, bt)):
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_convert_sync_batchnorm_keeps_parameters_statistics_and_outputs(rng):
    net = models.get("fashion_cnn")
    net.features[1].running_mean.data[...] = rng.standard_normal(net.features[1].num_features)
    params = [id(p) for p in net.parameters()]
    keys = list(net.state_dict())
    x = Tensor(rng.standard_normal((3, 1, 28, 28)).astype(np.float32))
    net.eval()
    before = net(x).data
    net = dist.convert_sync_batchnorm(net)
    assert [type(m).__name__ for m in net.modules()].count("SyncBatchNorm") == 2
    assert "BatchNorm2d" not in [type(m).__name__ for m in net.modules()]
    assert [id(p) for p in net.parameters()] == params and list(net.state_dict()) == keys
    np.testing.assert_array_equal(net(x).data, before)
    net.train()
    ref = models.get("fashion_cnn")
    ref.load_state_dict(net.state_dict())
    # Training mode with one rank: SyncBatchNorm is BatchNorm.
    np.testing.assert_allclose(net(x).data, ref(x).data, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------- under mpiexec
@needs_mpi
def test_lenet5_on_2_ranks_equals_one_process_with_the_global_batch(tmp_path):
    """20 SGD steps, 2 ranks x 32 against 1 process x 64 with the same data order.

    In float64 the runs agree to 1e-9 relative: the all-reduced mean gradient is the global one.
    In float32 it is summed in another association (two partial sums of 32 images, averaged, against
    one sum of 64: the weight gradient's register tiles add blocks of 256 pixels), a few ulps per step
    that 20 momentum steps amplify: measured 2e-4 on weights of size 0.2, as much as one process
    differs from itself run on 1 and on 2 threads. So float32 is held to 3e-3 of each tensor's
    largest value, as with batch norm below. Every rank holds bit-identical weights after every step
    (hash compared across ranks)."""
    for name in ("one64", "two64", "one32", "two32"):
        (tmp_path / name).mkdir()
    for dtype in ("float64", "float32"):
        _worker(None, "equivalence", tmp_path / f"one{dtype[-2:]}", "lenet5", 20, 64, dtype)
        # 40 kB buckets: lenet5's 178 kB of gradients travel in 5 messages
        result = _worker(2, "equivalence", tmp_path / f"two{dtype[-2:]}", "lenet5", 20, 64, dtype, 40_000)
        assert result["ranks"] == 2 and result["steps"] == 20 and result["disagreements"] == []
    for dtype, rtol in (("64", 1e-9), ("32", 3e-3)):
        one = np.load(tmp_path / f"one{dtype}" / "weights.npz")
        two = np.load(tmp_path / f"two{dtype}" / "weights.npz")
        assert sorted(one.files) == sorted(two.files)
        for k in one.files:
            scale = max(float(np.abs(one[k]).max()), 1.0)
            np.testing.assert_allclose(two[k], one[k], rtol=0, atol=rtol * scale, err_msg=f"{k} float{dtype}")


@needs_mpi
def test_fashion_cnn_with_sync_batch_norm_on_2_ranks_equals_one_process(tmp_path):
    """As above with batch norm: SyncBatchNorm on 2 ranks x 32, BatchNorm2d on 1 process x 64.

    In float64 the two runs agree to 1e-9 relative (measured ~1e-13): the global statistics and
    the backward's all-reduced sums are exact. In float32 BN's statistics are also summed
    differently (float64 sums of x and x^2 across ranks against centred float32 sums in one
    process), and the convolutions' float32 products sum over chunks of a different size; 20 momentum
    steps through two batch norms amplify those ulps (measured 1.7e-4 on weights of size 0.4, 6e-3 on
    a running variance of 74 with BLAS products; 1.5e-3 relative on one batch-norm weight with the
    register-tiled ones), so float32 is held to 3e-3 relative to each tensor's largest value."""
    for name in ("one64", "two64", "one32", "two32"):
        (tmp_path / name).mkdir()
    _worker(None, "equivalence", tmp_path / "one64", "fashion_cnn", 20, 64, "float64")
    result = _worker(2, "equivalence", tmp_path / "two64", "fashion_cnn", 20, 64, "float64")
    assert result["disagreements"] == [] and result["steps"] == 20
    _worker(None, "equivalence", tmp_path / "one32", "fashion_cnn", 20, 64, "float32")
    result = _worker(2, "equivalence", tmp_path / "two32", "fashion_cnn", 20, 64, "float32")
    assert result["disagreements"] == []
    for dtype, rtol in (("64", 1e-9), ("32", 3e-3)):
        one = np.load(tmp_path / f"one{dtype}" / "weights.npz")
        two = np.load(tmp_path / f"two{dtype}" / "weights.npz")
        for k in one.files:
            scale = max(float(np.abs(one[k]).max()), 1.0)
            np.testing.assert_allclose(two[k], one[k], rtol=0, atol=rtol * scale,
                                       err_msg=f"{k} float{dtype}")


@needs_mpi
def test_3_ranks_see_every_sample_once_per_epoch_and_evaluate_every_image_once(tmp_path):
    result = _worker(3, "shards", tmp_path, 100, 101)
    shards = result["indices"]
    assert [len(s) for s in shards] == [34, 34, 34]           # ceil(100 / 3), padded to 102
    seen = sorted(i for s in shards for i in s)
    shuffles = np.random.default_rng(3)
    order = [shuffles.permutation(100) for _ in range(2)][1].tolist()   # epoch 1's global shuffle
    assert sorted(set(seen)) == list(range(100))
    assert seen == sorted(list(range(100)) + order[:2])   # padding: the order's first 2 again
    for r in range(3):
        assert shards[r] == (order + order[:2])[r::3]
    # Evaluation: contiguous unpadded shards (33 + 34 + 34), gathered back in the test set's order.
    assert [len(s) for s in result["local_test"]] == [33, 34, 34]
    rng = np.random.default_rng(7)
    xs = rng.standard_normal((101, 4)).astype(np.float32)
    ys = rng.integers(0, 4, 101)
    assert result["targets"] == ys.tolist()
    assert result["accuracy"] == pytest.approx(float(np.mean(xs.argmax(1) == ys)), abs=1e-12)
    expected_loss = torch.nn.functional.cross_entropy(torch.tensor(xs), torch.tensor(ys)).item()
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-5)
    # 2 test images on 3 ranks: rank 0 evaluates none, the gathered result still has both.
    assert result["tiny_targets"] == ys[:2].tolist() and result["tiny_scores_shape"] == [2, 4]


@needs_mpi
def test_gradients_present_on_some_ranks_only_are_averaged_and_absent_ones_stay_none(tmp_path):
    result = _worker(3, "gradients", tmp_path)
    local, after = result["local"], result["after"]
    assert result["extra"] == [0 + 1 + 2, 3.0]
    for name in ("a.weight", "a.bias", "b.weight", "b.bias"):
        contributions = [np.array(rank[name]) for rank in local if rank[name] is not None]
        assert len(contributions) == (1 if name.startswith("a") else 2)
        np.testing.assert_allclose(after[name], sum(contributions) / 3, rtol=1e-6)
    assert after["unused.weight"] is None and after["unused.bias"] is None


@needs_mpi
def test_ddp_averages_gradients_present_on_some_ranks_only_and_leaves_unused_ones_none(tmp_path):
    """DDP's hooks fire for different parameters on different ranks (rank 0 uses layer a, ranks 1
    and 2 layer b; one bucket per parameter): the buckets still start in one order everywhere and
    the result is all_reduce_gradients' (the test above)."""
    result = _worker(3, "ddp_gradients", tmp_path)
    local, after = result["local"], result["after"]
    assert result["buckets"] == 6
    for name in ("a.weight", "a.bias", "b.weight", "b.bias"):
        contributions = [np.array(rank[name]) for rank in local if rank[name] is not None]
        assert len(contributions) == (1 if name.startswith("a") else 2)
        np.testing.assert_allclose(after[name], sum(contributions) / 3, rtol=1e-6)
    assert after["unused.weight"] is None and after["unused.bias"] is None


def test_gradient_buckets_hold_consecutive_parameters_of_one_dtype_up_to_the_size():
    net = models.get("lenet5")
    params = list(net.parameters())
    buckets = dist._buckets(params, 40_000)
    assert [p for b in buckets for p in b] == params
    assert all(sum(p._data.nbytes for p in b) <= 40_000 or len(b) == 1 for b in buckets)
    assert len(buckets) == 5 and len(dist._buckets(params, dist.BUCKET_BYTES)) == 1


@needs_mpi
def test_a_rank_that_raises_stops_every_rank_with_its_message(tmp_path):
    proc = _mpiexec(2, sys.executable, WORKER, "raises", str(tmp_path), timeout=60)
    assert proc.returncode != 0
    assert ("worker: error on rank 1 of 2: RuntimeError: rank 1 failed on purpose; "
            "stopping all ranks") in proc.stderr


@needs_mpi
def test_cli_global_batch_must_divide_between_the_ranks(tmp_path):
    proc = _mpiexec(3, "cnnlab", "train", "--dataset", "digits", "--batch-size", "64",
                    "--out", str(tmp_path), timeout=60)
    assert proc.returncode != 0
    assert ("ValueError: train: --batch-size 64 is the global batch and must be a multiple of the "
            "3 ranks (each rank takes batch_size / 3)") in proc.stderr
    assert not (tmp_path / "last.npz").exists()


@needs_mpi
def test_cli_ranks_started_with_different_seeds_are_named(tmp_path):
    common = ["cnnlab", "train", "--model", "fashion_cnn", "--dataset", "digits", "--epochs", "1",
              "--no-progress", "--out", str(tmp_path)]
    proc = _run(["mpiexec", "-n", "1", *common, "--seed", "0", ":",
                 "-n", "1", *common, "--seed", "1"], timeout=90)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert ("cnnlab train: error: distributed: the ranks were started differently: rank 1 has "
            "seed=1 where rank 0 has seed=0. Start every rank with the same command, code and data"
            ) in proc.stderr
    assert proc.stderr.count("ranks were started differently") == 1   # rank 0 alone reports it
    assert not (tmp_path / "last.npz").exists()


@needs_mpi
def test_cli_a_killed_rank_ends_the_job_and_resume_finishes_on_fresh_ranks(tmp_path):
    from cnnlab.runs.checkpoint import load_checkpoint

    args = ["train", "--model", "fashion_cnn", "--dataset", "digits", "--epochs", "2",
            "--batch-size", "64", "--no-progress", "--out", str(tmp_path)]
    # The communicate timeout is the hang detector: MPICH's launcher ends the job when a rank dies.
    proc = _mpiexec(2, sys.executable, WORKER, "cli_killed", str(tmp_path), *args, timeout=90)
    assert proc.returncode != 0
    assert "rank 1: killing itself with SIGKILL at epoch 2, batch 3" in proc.stderr
    assert "BAD TERMINATION" in proc.stdout + proc.stderr
    state = load_checkpoint(tmp_path / "last.npz")               # epoch 1's checkpoint, intact
    assert state["epoch"] == 1 and state["meta"]["world_size"] == 2
    proc = _run(["cnnlab", *args, "--resume"], timeout=90)       # one process cannot take it over
    assert proc.returncode == 2
    assert ("cnnlab train: error: train: the checkpoint to resume was written by a run on 2 "
            "rank(s); resume it with 2 (mpiexec -n 2), not 1") in proc.stderr
    proc = _mpiexec(2, "cnnlab", *args, "--resume", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Resumed from" in proc.stdout and "epoch 2/2:" in proc.stdout
    assert re.search(r"2 ranks, all-reduce \d+\.\d% of step time", proc.stdout)
    assert proc.stdout.count("test accuracy") == 1                # rank 0 alone prints
    assert load_checkpoint(tmp_path / "last.npz")["epoch"] == 2


def _test_accuracy(output):
    found = re.findall(r"test accuracy (\d+\.\d+)%", output)
    assert len(found) == 1, output
    return float(found[0])


@needs_mpi
def test_cli_on_2_ranks_reaches_the_accuracy_of_one_process(tmp_path):
    """One epoch on the bundled Fashion-MNIST subset (2,000 of its training images, its 1,000 test
    images): ``mpiexec -n 2`` against one process with the same global batch. The data order is the
    same and the batch norms are synchronised, so the accuracies differ by round-off at most."""
    args = ["train", "--model", "fashion_cnn", "--dataset", "fashion-mnist-mini", "--epochs", "1",
            "--batch-size", "64", "--train-limit", "2000", "--no-progress"]
    one = _run(["cnnlab", *args, "--out", str(tmp_path / "one")], timeout=180)
    assert one.returncode == 0, one.stdout + one.stderr
    two = _mpiexec(2, "cnnlab", *args, "--out", str(tmp_path / "two"), timeout=180)
    assert two.returncode == 0, two.stdout + two.stderr
    assert "1,000 test images" in two.stdout
    assert abs(_test_accuracy(one.stdout) - _test_accuracy(two.stdout)) <= 0.5


def test_trainer_with_data_parallel_on_one_rank_trains_exactly_as_without(tmp_path):
    from cnnlab import backend, optim
    from cnnlab.data import Subset
    from cnnlab.train import Trainer

    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 1, 28, 28)).astype(np.float32)
    ds = TensorDataset(x, rng.integers(0, 10, 40))
    runs = []
    for parallel in (False, True):
        backend.manual_seed(0)
        net = models.get("lenet5")
        lines = []
        par = dist.Synchronizer(net) if parallel else None
        sampler = dist.DistributedSampler(ds, seed=1) if parallel else None
        loader = (DataLoader(ds, batch_size=8, sampler=sampler) if parallel
                  else DataLoader(ds, batch_size=8, shuffle=True, seed=1))
        val = DataLoader(Subset(ds, dist.shard_indices(len(ds))), batch_size=16)
        trainer = Trainer(net, optim.SGD(net.parameters(), lr=0.05), progress=False,
                          checkpoint_dir=str(tmp_path / str(parallel)), log=lines.append,
                          parallel=par)
        history = trainer.fit(loader, val, epochs=2)
        runs.append((dist.parameters_digest(net), dict(history), lines))
    (digest0, hist0, lines0), (digest1, hist1, lines1) = runs
    assert digest0 == digest1
    del hist0["time"], hist1["time"]
    assert hist0 == hist1
    assert re.search(r"\| 1 rank, all-reduce \d+\.\d% of step time "
                     r"\(\d+\.\d ms/step, 0\.18 MB of gradients\)", lines1[-1])
    assert "all-reduce" not in lines0[-1]
    assert (tmp_path / "True" / "last.npz").exists()


# ---------------------------------------------------------------------------- a signal to any rank
def test_stop_requests_travel_as_one_number_per_rank_and_are_named(rng):
    net = nn.Linear(3, 2)
    sync = dist.Synchronizer(net)
    net(Tensor(rng.standard_normal((4, 3)).astype(np.float32))).sum().backward()
    assert sync._stop_slots(None) == [0.0] and sync._stop_slots("SIGINT") == [2.0]
    assert sync._stop_slots("KeyboardInterrupt") == [255.0]
    assert sync.after_backward(1.5, 3, 4) == (1.5, 3, 4) and sync.stop_reason is None
    assert sync.agree_stop(None) is None
    assert sync.after_backward(1.5, 3, 4, stop="SIGTERM") == (1.5, 3, 4)
    assert sync.stop_reason == "SIGTERM on rank 0"
    sync.stop_reason = None
    sync._read_stop_slots([0.0, 15.0, 2.0, 255.0])
    assert sync.stop_reason == "SIGTERM on rank 1, SIGINT on rank 2, a stop request on rank 3"
    assert dist.Synchronizer(net).agree_stop("SIGINT") == "SIGINT on rank 0"


def _wait_for(path, proc, seconds):
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            out, err = proc.communicate(timeout=30) if proc.poll() is None else proc.communicate()
            raise AssertionError(f"{path} never appeared\n{out}\n{err}")
        time.sleep(0.1)
    with open(path) as f:
        return f.read()


@needs_mpi
@pytest.mark.parametrize("target", [1, 0, "mpiexec"])
def test_cli_sigterm_to_one_rank_stops_every_rank_at_one_step_and_resume_finishes(tmp_path,
                                                                                   target):
    """SIGTERM, as a scheduler sends it, to one rank of ``mpiexec -n 2 cnnlab train``: the request
    travels in the next step's all-reduce, every rank stops after that step, rank 0 writes the
    checkpoint, and both ranks exit with status 130 (as one process does) within seconds.
    ``--resume`` on 2 ranks then finishes the run. Ctrl-C at the terminal (SIGINT to ``mpiexec``,
    which passes it to every rank) stops the same way."""
    from cnnlab.runs.checkpoint import load_checkpoint

    run = tmp_path / "run"
    args = ["train", "--model", "fashion_cnn", "--dataset", "digits", "--epochs", "3",
            "--batch-size", "64", "--no-progress", "--out", str(run)]
    proc = subprocess.Popen(["mpiexec", "-n", "2", sys.executable, WORKER, "cli_signal",
                             str(tmp_path), *args], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        pid = int(_wait_for(tmp_path / f"ready.{0 if target == 'mpiexec' else target}", proc,
                            240))
        if target == "mpiexec":
            os.kill(proc.pid, signal.SIGINT)
        else:
            os.kill(pid, signal.SIGTERM)
        sent = time.monotonic()
        out, err = proc.communicate(timeout=60)   # the hang detector
    finally:
        if proc.poll() is None:
            proc.kill()
    assert time.monotonic() - sent < 30, "the job took more than 30 s to stop"
    assert proc.returncode == 130, out + err
    assert [(tmp_path / f"status.{r}").read_text() for r in range(2)] == ["130", "130"], out + err
    reason = ("SIGINT on rank [01](?:, SIGINT on rank 1)?" if target == "mpiexec"
              else f"SIGTERM on rank {target}")
    found = re.findall(rf"Interrupted \({reason}\) at epoch 2, batch (\d+); "
                       rf"checkpoint saved to", out)
    assert len(found) == 1, out + err                  # rank 0 alone logs, once
    batch = found[0]
    state = load_checkpoint(run / "last.npz")
    assert state["epoch"] == 1 and state["batch"] == int(batch) >= 3
    assert "Traceback" not in err
    if target == 1:
        proc = _mpiexec(2, "cnnlab", *args, "--resume", timeout=240)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "Resumed from" in proc.stdout and f"at epoch 2, batch {batch}\n" in proc.stdout
        assert "epoch 3/3:" in proc.stdout and proc.stdout.count("test accuracy") == 1
        assert load_checkpoint(run / "last.npz")["epoch"] == 3


# ---------------------------------------------------------------------------- PyTorch's API
def test_pytorch_process_group_api_on_one_process():
    assert not dist.is_initialized() and dist.is_available() and dist.is_mpi_available()
    assert not dist.is_nccl_available() and not dist.is_gloo_available()
    try:
        dist.init_process_group("mpi")
        assert dist.is_initialized() and dist.get_backend() == "mpi"
        assert dist.get_rank() == 0 and dist.get_world_size() == 1
        assert dist.get_rank(dist.group.WORLD) == 0
        with pytest.raises(RuntimeError, match="init_process_group: the default process group is "
                                               "already initialized"):
            dist.init_process_group("mpi")
        t = Tensor(np.array([1.0, -2.0, 3.0]))
        for op in dist.ReduceOp:
            if op.name.startswith("B"):
                continue
            assert dist.all_reduce(t, op=op) is None and t.data.tolist() == [1.0, -2.0, 3.0]
        ints = Tensor(np.array([6, 3]))
        for op in ("band", dist.ReduceOp.BOR, dist.ReduceOp.BXOR):
            dist.all_reduce(ints, op=op)
        assert ints.data.tolist() == [6, 3]
        work = dist.all_reduce(t, async_op=True)
        assert work.wait() and work.is_completed()
        assert dist.broadcast(t, src=0) is None and t.data.tolist() == [1.0, -2.0, 3.0]
        assert dist.barrier() is None
        dist.destroy_process_group()
        assert not dist.is_initialized()
        dist.init_process_group(backend="gloo", init_method="env://", world_size=1, rank=0)
        assert dist.get_backend() == "gloo"
    finally:
        dist.destroy_process_group()


def test_pytorch_gather_functions_and_the_names_cnnlab_leaves_out():
    ours = [Tensor(np.zeros((2, 3), np.float32))]
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert dist.all_gather(ours, x) is None
    np.testing.assert_array_equal(ours[0].data, x.data)
    assert dist.all_gather(np.arange(3.0)).tolist() == [0.0, 1.0, 2.0]     # cnnlab's own form
    names = [None]
    dist.all_gather_object(names, {"rank": 0, "acc": 0.5})
    assert names == [{"rank": 0, "acc": 0.5}]
    objects = [1, "two", None]
    dist.broadcast_object_list(objects, src=0)
    assert objects == [1, "two", None]
    with pytest.raises(ValueError, match=r"all_gather: `tensor_list` must be a list of 1 "
                                         r"tensors, one per rank. Received 2"):
        dist.all_gather([x, x], x)
    with pytest.raises(ValueError, match=r"every tensor in `tensor_list` must have `tensor`'s "
                                         r"shape \(2, 3\)"):
        dist.all_gather([Tensor(np.zeros(3))], x)
    with pytest.raises(TypeError, match="all_gather_object: cnnlab sends objects between ranks as "
                                        "JSON, never pickled; Object of type set is not JSON"):
        dist.all_gather_object([None], {1, 2})
    with pytest.raises(AttributeError, match=r"cnnlab.distributed has no `new_group` \(cnnlab "
                                             r"has one process group, the whole world"):
        dist.new_group
    with pytest.raises(AttributeError, match=r"cnnlab.distributed has no `reduce` \(use "
                                             r"all_reduce"):
        dist.reduce
    with pytest.raises(AttributeError, match="has no attribute 'nonsense'"):
        dist.nonsense


def test_pytorch_process_group_api_answers_bad_arguments_in_one_line():
    with pytest.raises(ValueError, match=r"init_process_group: cnnlab's processes communicate "
                                         r"through MPI: use backend='mpi' \(programs written for "
                                         r"'gloo' run as they are; 'nccl' needs GPUs cnnlab does "
                                         r"not drive\). Received: backend='nccl'"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match=r"init_process_group: world_size=2 but this process was "
                                         r"started as rank 0 of 1; cnnlab's ranks meet through "
                                         r"MPI: start them with mpiexec -n N python program.py"):
        dist.init_process_group("mpi", world_size=2, rank=0)
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="get_backend: the default process group has not been "
                                         "initialized"):
        dist.get_backend()
    with pytest.raises(ValueError, match=r"broadcast: `src` must be a rank in \[0, 0\]. "
                                         r"Received: src=1"):
        dist.broadcast(Tensor(np.ones(2)), src=1)
    with pytest.raises(ValueError, match=r"all_reduce: cnnlab has one process group, the whole "
                                         r"world; pass group=None \(new_group is not supported\)"):
        dist.all_reduce(Tensor(np.ones(2)), group="other")
    with pytest.raises(TypeError, match="all_reduce: ReduceOp.AVG needs a floating-point tensor. "
                                        "Received dtype int64"):
        dist.all_reduce(Tensor(np.ones(2, np.int64)), op=dist.ReduceOp.AVG)
    with pytest.raises(TypeError, match="all_reduce: `tensor` must be a cnnlab Tensor or a NumPy "
                                        "array on the CPU. Received list"):
        dist.all_reduce([1.0])


def test_ddp_on_one_process_gives_the_models_own_gradients_in_buckets(rng):
    """With one rank the average is the gradient itself: every bucket path (started by the hooks
    as backward goes, or at its end) must hand back exactly the plain model's gradients."""
    from cnnlab.nn.parallel import DistributedDataParallel

    net, ref = models.get("lenet5"), models.get("lenet5")
    ref.load_state_dict(net.state_dict())
    ddp = DistributedDataParallel(net, bucket_cap_mb=40_000 / 2**20)
    assert ddp.module is net and len(ddp._buckets) == 5
    assert list(ddp.state_dict()) == ["module." + k for k in net.state_dict()]
    x = Tensor(rng.standard_normal((4, 1, 28, 28)).astype(np.float32))
    y = Tensor(np.array([0, 1, 2, 3]))
    for overlap in (True, False):
        ddp.overlap = overlap
        for p, q in zip(net.parameters(), ref.parameters()):
            p.grad = q.grad = None
        nn.CrossEntropyLoss()(ddp(x), y).backward()
        nn.CrossEntropyLoss()(ref(x), y).backward()
        for p, q in zip(net.parameters(), ref.parameters()):
            np.testing.assert_array_equal(p.grad.data, q.grad.data)
    assert ddp.buckets_started_early == 5               # the overlapped pass only
    with ddp.no_sync():
        nn.CrossEntropyLoss()(ddp(x), y).backward()
    assert ddp.buckets_started_early == 5
    with pytest.raises(ValueError, match=r"DistributedDataParallel: `device_ids` must be None: "
                                         r"cnnlab's ranks compute on CPUs"):
        DistributedDataParallel(net, device_ids=[0])
    with pytest.raises(ValueError, match="`bucket_cap_mb` must be a positive number"):
        DistributedDataParallel(net, bucket_cap_mb=0)
    import cnnlab

    assert cnnlab.nn.parallel.DistributedDataParallel is DistributedDataParallel


@needs_mpi
def test_ddp_on_2_ranks_trains_as_all_reduce_gradients_and_as_one_process(tmp_path):
    """A program in PyTorch's style (init_process_group, DistributedDataParallel) on 2 ranks x 32
    against all_reduce_gradients on 2 ranks x 32 and one process x 64, 20 SGD steps of lenet5.

    DDP sums the same two numbers per gradient element as all_reduce_gradients, only in other
    buckets and earlier, so the weights are equal bit for bit; against one process they differ by
    float32 round-off (see the lenet5 test above; held to the same 3e-3). 40 kB buckets: 5 all-reduces a step, started
    while backward runs. With gradient accumulation (each rank's 32 as two halves of 16, the first
    under no_sync) the step is the same up to round-off: in float64, measured 7e-17 after 20 steps
    (in float32, batches of 16 take other kernel blockings, and 20 momentum steps carry those ulps
    to 2e-4)."""
    for name in ("one", "two", "ddp", "one64", "accumulate64"):
        (tmp_path / name).mkdir()
    common = ("lenet5", 20, 64, "float32", 40_000)
    _worker(None, "equivalence", tmp_path / "one", *common)
    _worker(2, "equivalence", tmp_path / "two", *common)
    ddp = _worker(2, "equivalence", tmp_path / "ddp", *common, "ddp")
    assert ddp["disagreements"] == [] and ddp["steps"] == 20 and ddp["buckets"] == 5
    assert ddp["started_early"] == 20 * 5
    assert ddp["state_dict_keys"][0] == "module.features.0.weight"
    common64 = ("lenet5", 20, 64, "float64", 40_000)
    _worker(None, "equivalence", tmp_path / "one64", *common64)
    accumulate = _worker(2, "equivalence", tmp_path / "accumulate64", *common64, "ddp_accumulate")
    assert accumulate["disagreements"] == []
    weights = {name: np.load(tmp_path / name / "weights.npz") for name in
               ("one", "two", "ddp", "one64", "accumulate64")}
    for k in weights["one"].files:
        np.testing.assert_array_equal(weights["ddp"][k], weights["two"][k], err_msg=k)
        scale = max(float(np.abs(weights["one"][k]).max()), 1.0)        # float32 round-off, as above
        np.testing.assert_allclose(weights["ddp"][k], weights["one"][k], rtol=0, atol=3e-3 * scale, err_msg=k)
        np.testing.assert_allclose(weights["accumulate64"][k], weights["one64"][k], rtol=1e-9,
                                   atol=1e-12, err_msg=k)


def _renamed_imports(source):
    """The program with the rule applied to its import lines only: ``import torch`` becomes
    ``import cnnlab as torch``, ``torch.x`` in ``import``/``from`` lines becomes ``cnnlab.x``."""
    lines = []
    for line in source.splitlines():
        if line.strip() == "import torch":
            line = line.replace("import torch", "import cnnlab as torch")
        elif re.match(r"\s*(import|from) torch\.", line):
            line = re.sub(r"\btorch\b", "cnnlab", line, count=1)
        lines.append(line)
    return "\n".join(lines) + "\n"


@needs_mpi
def test_a_pytorch_ddp_program_with_renamed_imports_trains_on_2_ranks_as_pytorch_does(tmp_path):
    """tests/distributed_ddp_program.py (init_process_group("gloo"), DDP, DistributedSampler,
    broadcast, all_reduce with ReduceOp.SUM, all_gather, all_gather_object, barrier) runs unchanged
    on PyTorch as one process with
    the global batch of 64, and with its imports renamed on cnnlab as 2 ranks x 32: 12 SGD steps
    from the same weights end equal to float32 round-off (measured 6e-8)."""
    import socket

    if not (torch.distributed.is_available() and torch.distributed.is_gloo_available()):
        pytest.skip("this PyTorch build has no gloo backend to run the program on")
    program = os.path.join(HERE, "distributed_ddp_program.py")
    rng = np.random.default_rng(0)
    shapes = {"conv.weight": (4, 1, 3, 3), "conv.bias": (4,), "fc.weight": (10, 100),
              "fc.bias": (10,)}
    np.savez(tmp_path / "init.npz", **{k: (rng.standard_normal(s) * 0.2).astype(np.float32)
                                       for k, s in shapes.items()})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = _env(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", WORLD_SIZE="1")
    env.pop("PYTHONPATH")
    proc = subprocess.run([sys.executable, program, str(tmp_path / "torch.npz"),
                           str(tmp_path / "init.npz")], env=env, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    renamed = tmp_path / "program.py"
    renamed.write_text(_renamed_imports(open(program).read()))
    assert "import cnnlab as torch\nimport cnnlab.distributed as dist\n" in renamed.read_text()
    proc = _mpiexec(2, sys.executable, str(renamed), str(tmp_path / "cnnlab.npz"),
                    str(tmp_path / "init.npz"), timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    theirs, ours = np.load(tmp_path / "torch.npz"), np.load(tmp_path / "cnnlab.npz")
    assert sorted(ours.files) == sorted(theirs.files) and len(theirs["losses"]) == 12
    assert theirs["seen"].tolist() == [256] and ours["seen"].tolist() == [128, 128]
    for k in (k for k in theirs.files if k != "seen"):
        scale = float(np.abs(theirs[k]).max())
        np.testing.assert_allclose(ours[k], theirs[k], rtol=0, atol=2e-6 * scale, err_msg=k)
