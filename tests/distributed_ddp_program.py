"""A data-parallel training program written as PyTorch programs are, run by
tests/test_distributed.py twice: unchanged on PyTorch (one process, gloo) and on cnnlab under
``mpiexec -n 2`` with only its imports renamed (``torch`` -> ``cnnlab``).

Usage: python distributed_ddp_program.py OUT.npz INIT.npz
The model starts from INIT.npz's weights; OUT.npz gets the trained weights and the losses.
"""

import sys

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.optim as optim
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 5 * 5, 10)

    def forward(self, x):
        x = self.pool(self.conv(x).relu())
        return self.fc(x.flatten(1))


def main(out, init):
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    model = Net()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(init).items()})
    model = DDP(model)

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((256, 1, 12, 12)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, 256))
    dataset = TensorDataset(x, y)
    sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=False)
    loader = DataLoader(dataset, batch_size=64 // world, sampler=sampler)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    seed = torch.tensor([rank * 100 + 7])
    dist.broadcast(seed, src=0)                 # every rank takes rank 0's number
    assert int(seed.item()) == 7

    losses = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimizer.step()
            total = loss.detach().clone()
            dist.all_reduce(total, op=dist.ReduceOp.SUM)   # the global batch's loss
            losses.append(total.item() / world)
    seen = [torch.zeros(1) for _ in range(world)]
    dist.all_gather(seen, torch.tensor([float(len(sampler))]))   # samples per rank
    names = [None] * world
    dist.all_gather_object(names, f"rank {rank}")
    assert names == [f"rank {r}" for r in range(world)]
    dist.barrier()
    if rank == 0:
        weights = {k: np.asarray(v) for k, v in model.module.state_dict().items()}
        np.savez(out, losses=np.array(losses), seen=np.array([s.item() for s in seen]), **weights)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
