"""Programs tests/test_distributed.py runs under ``mpiexec -n N`` (and as one plain process).

Usage: python distributed_worker.py SCENARIO OUT_DIR [ARGS...]; rank 0 writes OUT_DIR/result.json.
"""

import json
import os
import signal
import sys

import numpy as np


def _write(out, result):
    from cnnlab import distributed as dist

    if dist.is_main():
        with open(os.path.join(out, "result.json"), "w") as f:
            json.dump(result, f)


def equivalence(out, model_name, steps="20", global_batch="64", dtype="float32",
                bucket_bytes=str(32 << 20), mode="all_reduce_gradients"):
    """Train ``steps`` SGD steps on fixed random data: N ranks x B/N under the distributed API,
    or one process x B with a plain DataLoader; save the weights and whether the ranks agreed bit
    for bit after every step.

    ``mode``: ``all_reduce_gradients`` after each backward; ``ddp``, the model wrapped in
    DistributedDataParallel (PyTorch's API from start to end, buckets of ``bucket_bytes``);
    ``ddp_no_overlap``, the same with every all-reduce after backward; ``ddp_accumulate``, each
    step as two half batches of half the loss, the first under ``no_sync()``."""
    from cnnlab import backend, models, nn, optim
    from cnnlab import distributed as dist
    from cnnlab.data import DataLoader, TensorDataset
    from cnnlab.nn.parallel import DistributedDataParallel

    steps, global_batch = int(steps), int(global_batch)
    ddp = mode.startswith("ddp")
    if ddp:
        dist.init_process_group("mpi")
        size = dist.get_world_size()
    else:
        size = dist.init()
    backend.manual_seed(0)
    backend.set_default_dtype(dtype)
    net = models.get(model_name, num_classes=10)
    if size > 1:
        net = dist.convert_sync_batchnorm(net)
    if ddp:
        model = DistributedDataParallel(net, bucket_cap_mb=int(bucket_bytes) / 2**20)
        model.overlap = mode != "ddp_no_overlap"
    else:
        model = net
        dist.broadcast_parameters(net)
    rng = np.random.default_rng(1)
    n = global_batch * 10                      # 10 steps an epoch: 20 steps cross an epoch boundary
    x = rng.standard_normal((n, 1, 28, 28)).astype(dtype)
    y = rng.integers(0, 10, n)
    ds = TensorDataset(x, y)
    if size > 1:
        sampler = dist.DistributedSampler(ds, seed=5)
        loader = DataLoader(ds, batch_size=global_batch // size, sampler=sampler)
    else:
        sampler, loader = None, DataLoader(ds, batch_size=global_batch, shuffle=True, seed=5)
    opt = optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    step, epoch, disagreements, losses = 0, 0, [], []
    while step < steps:
        if sampler is not None:
            sampler.set_epoch(epoch)
        for xb, yb in loader:
            opt.zero_grad()
            if mode == "ddp_accumulate":
                half = len(yb) // 2
                with model.no_sync():
                    (loss_fn(model(xb[:half]), yb[:half]) * 0.5).backward()
                loss = loss_fn(model(xb[half:]), yb[half:]) * 0.5
            else:
                loss = loss_fn(model(xb), yb)
            loss.backward()
            if not ddp:
                dist.all_reduce_gradients(net, bucket_bytes=int(bucket_bytes))
            opt.step()
            step += 1
            losses.append(float(loss.item()))
            digests = dist.all_gather_json(dist.parameters_digest(net))
            if len(set(digests)) != 1:
                disagreements.append(step)
            if step == steps:
                break
        epoch += 1
    if dist.is_main():
        np.savez(os.path.join(out, "weights.npz"),
                 **{k: backend.asnumpy(v.data) for k, v in net.state_dict().items()})
    _write(out, {"ranks": size, "steps": step, "disagreements": disagreements, "losses": losses,
                 "buckets": len(model._buckets) if ddp else None,
                 "started_early": model.buckets_started_early if ddp else None,
                 "state_dict_keys": list(model.state_dict())})
    if ddp:
        dist.destroy_process_group()


def shards(out, length="100", test_length="101"):
    """One epoch of a DistributedSampler over ``length`` samples and a sharded evaluation of
    ``test_length`` samples: every rank's indices and the gathered evaluation."""
    from cnnlab import distributed as dist
    from cnnlab import nn
    from cnnlab.data import DataLoader, Subset, TensorDataset
    from cnnlab.runs.evaluation import evaluate

    length, test_length = int(length), int(test_length)
    dist.init()
    ds = TensorDataset(np.zeros((length, 1), np.float32), np.arange(length))
    sampler = dist.DistributedSampler(ds, seed=3)
    sampler.set_epoch(1)
    loader = DataLoader(ds, batch_size=8, sampler=sampler)
    mine = np.concatenate([yb.data for _, yb in loader]).astype(np.int64)
    every = dist.all_gather_json(mine.tolist())
    rng = np.random.default_rng(7)
    xs = rng.standard_normal((test_length, 4)).astype(np.float32)
    ys = rng.integers(0, 4, test_length)
    test = TensorDataset(xs, ys)
    local = dist.shard_indices(test_length)
    parallel = dist.Synchronizer(nn.Identity())
    result = evaluate(nn.Identity(), DataLoader(Subset(test, local), batch_size=10),
                      nn.CrossEntropyLoss(), parallel=parallel)
    # A test set smaller than the world: rank 0's shard is empty.
    tiny = evaluate(nn.Identity(), DataLoader(Subset(test, dist.shard_indices(2)), batch_size=10),
                    nn.CrossEntropyLoss(), parallel=parallel)
    _write(out, {"indices": every, "local_test": dist.all_gather_json(local.tolist()),
                 "accuracy": result["accuracy"], "loss": result["loss"],
                 "targets": result["targets"].tolist(), "tiny_targets": tiny["targets"].tolist(),
                 "tiny_scores_shape": list(tiny["scores"].shape)})


def gradients(out):
    """Parameters with a gradient on some ranks only, and one with none at all; 16-byte buckets."""
    from cnnlab import distributed as dist
    from cnnlab import nn
    from cnnlab.tensor import Tensor

    dist.init()
    r = dist.rank()
    net = nn.ModuleDict({"a": nn.Linear(3, 2), "b": nn.Linear(3, 2), "unused": nn.Linear(3, 2)})
    x = Tensor(np.full((1, 3), r + 1.0, dtype=np.float32))
    (net["a"] if r == 0 else net["b"])(x).sum().backward()     # rank 0 uses a, the others use b
    def grads():
        return {k: None if p.grad is None else p.grad.data.tolist()
                for k, p in net.named_parameters()}

    local = grads()
    summed = dist.all_reduce_gradients(net, bucket_bytes=16, extra=[r, 1.0])
    _write(out, {"local": dist.all_gather_json(local), "extra": summed.tolist(), "after": grads()})


def ddp_gradients(out):
    """As ``gradients`` through DistributedDataParallel with one bucket per parameter: each rank's
    hooks find other parameters ready (rank 0 uses ``a``, the others ``b``), yet every rank must
    start the buckets in one order."""
    from cnnlab import distributed as dist
    from cnnlab import nn
    from cnnlab.nn.parallel import DistributedDataParallel
    from cnnlab.tensor import Tensor

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.unused = nn.Linear(3, 2), nn.Linear(3, 2), nn.Linear(3, 2)

        def forward(self, x, which):
            return (self.a if which == "a" else self.b)(x)

    dist.init_process_group("mpi")
    r = dist.get_rank()
    net = Two()
    model = DistributedDataParallel(net, bucket_cap_mb=16 / 2**20)
    x = Tensor(np.full((1, 3), r + 1.0, dtype=np.float32))
    local = {}
    hooks = [p.register_post_accumulate_grad_hook(
        lambda p, k=k: local.__setitem__(k, p.grad.data.tolist()))   # before the average
        for k, p in net.named_parameters()]
    model(x, "a" if r == 0 else "b").sum().backward()
    after = {k: None if p.grad is None else p.grad.data.tolist() for k, p in net.named_parameters()}
    del hooks
    local = {k: local.get(k) for k in after}
    _write(out, {"local": dist.all_gather_json(local), "after": after,
                 "buckets": len(model._buckets)})


def cli_killed(out, *argv):
    """``cnnlab train ARGV`` where rank 1 kills itself with SIGKILL at the 3rd batch of epoch 2."""
    from cnnlab import cli
    from cnnlab import distributed as dist
    from cnnlab.train import trainer

    class KillRankOne:
        def on_batch_end(self, t, batch, logs):
            if dist.rank() == 1 and t._epoch == 1 and batch == 2:
                print("rank 1: killing itself with SIGKILL at epoch 2, batch 3", file=sys.stderr,
                      flush=True)
                os.kill(os.getpid(), signal.SIGKILL)

    original = trainer.Trainer.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.callbacks.append(KillRankOne())

    trainer.Trainer.__init__ = init
    sys.exit(cli.main(list(argv)))


def cli_signal(out, *argv):
    """``cnnlab ARGV`` where every rank writes ``ready.<rank>`` (its pid) after the 3rd batch of
    epoch 2 and from then on waits 0.2 s after each batch, so that a signal sent once the file is
    there lands in the middle of the epoch; each rank writes ``status.<rank>``, its exit status."""
    import time

    from cnnlab import cli
    from cnnlab import distributed as dist
    from cnnlab.train import trainer

    def put(name, text):
        path = os.path.join(out, f"{name}.{dist.rank()}")
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)

    class Slow:
        def on_batch_end(self, t, batch, logs):
            if t._epoch == 1 and batch >= 2:
                if batch == 2:
                    put("ready", str(os.getpid()))
                time.sleep(0.2)

    original = trainer.Trainer.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.callbacks.append(Slow())

    trainer.Trainer.__init__ = init
    status = cli.main(list(argv))
    put("status", str(status))
    sys.exit(status)


def raises(out):
    """Rank 1 raises in the middle of a collective program; rank 0 waits in an all-reduce."""
    from cnnlab import distributed as dist

    dist.init()
    with dist.abort_on_error("worker"):
        if dist.rank() == 1:
            raise RuntimeError("rank 1 failed on purpose")
        dist.all_reduce(np.ones(3))
        dist.all_reduce(np.ones(3))


if __name__ == "__main__":
    scenario, out_dir, *rest = sys.argv[1:]
    globals()[scenario](out_dir, *rest)
