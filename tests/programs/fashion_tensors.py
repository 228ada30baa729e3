"""A Fashion-MNIST classifier that needs nothing but PyTorch: the IDX files read with NumPy into a
TensorDataset, random_split into train and validation, BatchNorm CNN, Adam with
CosineAnnealingLR, gradient clipping, the best state dict kept and reloaded.

Runs on PyTorch as it is; on cnnlab with its imports renamed (tests/programs/rename.py).
Arguments: data directory (fashion-mnist IDX .gz files), training images, epochs.
"""
import copy
import gzip
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset, random_split


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(root, kind, limit):
    images = read_idx(os.path.join(root, f"{kind}-images-idx3-ubyte.gz"))[:limit]
    labels = read_idx(os.path.join(root, f"{kind}-labels-idx1-ubyte.gz"))[:limit]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    x = (x - 0.2860) / 0.3530
    y = torch.from_numpy(labels.astype(np.int64))
    return TensorDataset(x, y)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def evaluate(model, loader):
    model.eval()
    correct, total, loss = 0, 0, 0.0
    with torch.no_grad():
        for x, y in loader:
            out = model(x)
            loss += F.cross_entropy(out, y, reduction="sum").item()
            correct += (out.argmax(1) == y).sum().item()
            total += y.numel()
    return loss / total, 100.0 * correct / total


def main():
    root = sys.argv[1]
    n_train = int(sys.argv[2]) if len(sys.argv) > 2 else 60000
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    torch.manual_seed(0)
    full = load(root, "train", n_train)
    n_val = len(full) // 10
    train_set, val_set = random_split(full, [len(full) - n_val, n_val],
                                      generator=torch.Generator().manual_seed(0))
    test_set = load(root, "t10k", max(n_train // 4, 1000))
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True, drop_last=True)
    val_loader = DataLoader(val_set, batch_size=256)
    test_loader = DataLoader(test_set, batch_size=256)

    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer,
                                                           T_max=epochs * len(train_loader))
    best_acc, best_state = -1.0, None
    for epoch in range(epochs):
        model.train()
        seen, running = 0, 0.0
        for step, (x, y) in enumerate(train_loader):
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
            optimizer.step()
            scheduler.step()
            running += loss.item() * x.size(0)
            seen += x.size(0)
        val_loss, val_acc = evaluate(model, val_loader)
        print(f"epoch {epoch + 1}: train loss {running / seen:.4f} val loss {val_loss:.4f} "
              f"val acc {val_acc:.2f}% lr {scheduler.get_last_lr()[0]:.2e}")
        if val_acc > best_acc:
            best_acc, best_state = val_acc, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    test_loss, test_acc = evaluate(model, test_loader)
    print(f"FINAL accuracy={test_acc:.2f} loss={test_loss:.4f}")


if __name__ == "__main__":
    main()
