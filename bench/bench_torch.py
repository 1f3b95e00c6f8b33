#!/usr/bin/python3
"""PyTorch's side of `ampc bench torch`: times training steps of ampc's standard models
(the same nn.Sequential as ampc/models.h) in fp32 on CPU, with the same batch, optimizer
(SGD lr 0.05 momentum 0.9), step count and thread count as ampc's side, and prints one JSON
object per model: {"model", "batch", "threads", "steps", "ms_per_step" (median), "ms_min"}.

Run by bench/bench_torch.c with Debian's /usr/bin/python3 (python3-torch). The inputs are random
[0, 1) images and labels: timing does not depend on the values."""
import argparse
import json
import time

import torch
import torch.nn.functional as F
from torch import nn


def build(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(),
                             nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(3136, 256), nn.ReLU(), nn.Linear(256, 10))


def time_model(name, batch, steps, warmup):
    torch.manual_seed(0)
    model = build(name).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    images = torch.rand(batch, 1, 28, 28)
    labels = torch.randint(0, 10, (batch,))
    times = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        optimizer.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        if step >= warmup:
            times.append(time.perf_counter() - start)
    times.sort()
    return {"model": name, "batch": batch, "threads": torch.get_num_threads(), "steps": steps,
            "ms_per_step": 1e3 * times[len(times) // 2], "ms_min": 1e3 * times[0],
            "torch": torch.__version__}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["mlp", "cnn"], action="append", required=True)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.model:
        print(json.dumps(time_model(name, args.batch, args.steps, args.warmup)), flush=True)


if __name__ == "__main__":
    main()
