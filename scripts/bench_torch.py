"""The PyTorch side of `npm run bench` (scripts/bench.ts): the same work as the TypeScript side, written
the way a PyTorch user would write it. Run with Debian's /usr/bin/python3 (python3-torch, and
libopenblas0-pthread so that torch uses a real BLAS).

Reads a JSON spec as the first line of stdin (data folders, cases, hyperparameters: bench.ts owns them,
so both sides always agree) and answers in JSON lines on stdout. Times are milliseconds.

  bench_torch.py load    one cold load of MNIST_SAMPLE's training PNGs (a fresh process each time)
  bench_torch.py loads   a cold load, then warm reloads
  bench_torch.py load_mnist  one cold load of full MNIST's 60,000 training PNGs with their labels
  bench_torch.py serve   one training case ("case"), on the arrays our side wrote ("data_files") and on
                         "device" (cpu or cuda): then one epoch per request line, answered by one line
"""
import json
import math
import os
import sys
import time

import numpy as np


LIMIT = None  # files read per digit folder (the spec's "limit"; the quick smoke run reads a few)


def ls(folder):
    # Sorted by code point, as the lib's ls() sorts.
    return [os.path.join(folder, n) for n in sorted(os.listdir(folder))][:LIMIT]


def load_sample_train(sample):
    """The chapter's `torch.stack([tensor(Image.open(o)) ...]).float()/255`, for the 3s then the 7s."""
    from PIL import Image  # here, so that a GPU machine without PIL can still run the training cases

    files = ls(os.path.join(sample, "train", "3")) + ls(os.path.join(sample, "train", "7"))
    return np.stack([np.asarray(Image.open(f)) for f in files]).astype(np.float32) / 255


def load_mnist_train(root):
    """Full MNIST's training PNGs labelled by their folder: training/<digit>/<i>.png, digits in name order."""
    from PIL import Image

    files, labels = [], []
    for digit in sorted(os.listdir(os.path.join(root, "training"))):
        names = ls(os.path.join(root, "training", digit))
        files += names
        labels += [int(digit)] * len(names)
    x = np.stack([np.asarray(Image.open(f)) for f in files]).astype(np.float32) / 255
    return x, np.array(labels, dtype=np.int64)


def timed_load(sample):
    t0 = time.perf_counter()
    x = load_sample_train(sample)
    return (time.perf_counter() - t0) * 1000, x


def adaptive_concat_pool(size=1):
    """fastai's AdaptiveConcatPool2d: adaptive max-pool and average-pool side by side along the channels, max first."""
    import torch
    from torch import nn

    class AdaptiveConcatPool2d(nn.Module):
        def __init__(self):
            super().__init__()
            self.mp, self.ap = nn.AdaptiveMaxPool2d(size), nn.AdaptiveAvgPool2d(size)

        def forward(self, x):
            return torch.cat([self.mp(x), self.ap(x)], 1)

    return AdaptiveConcatPool2d()


def fastai_head(nf, n_out, ps=0.5, hidden=512):
    """fastai's create_head(nf, n_out): concatenated adaptive max and average pooling, flatten, then
    (BatchNorm1d, Dropout, Linear without bias) twice with a ReLU between; dropout ps/2 then ps."""
    from torch import nn

    return nn.Sequential(
        adaptive_concat_pool(1), nn.Flatten(),
        nn.BatchNorm1d(2 * nf), nn.Dropout(ps / 2), nn.Linear(2 * nf, hidden, bias=False), nn.ReLU(inplace=True),
        nn.BatchNorm1d(hidden), nn.Dropout(ps), nn.Linear(hidden, n_out, bias=False),
    )


def resnet18_body(n_in):
    """torchvision's resnet18 without its pooling and classifier (fastai's body), its stem taking n_in channels."""
    import torchvision
    from torch import nn

    m = torchvision.models.resnet18()
    m.conv1 = nn.Conv2d(n_in, 64, 7, 2, 3, bias=False)
    return list(m.children())[:-2]


def load_training_data(file, binary):
    """The arrays our side trains on (bench.ts writes them): n label bytes, then n*784 pixel bytes.
    Pixels become floats in [0, 1]; labels a [n, 1] float column for the 3-vs-7 sample (3 -> 1, 7 -> 0)
    under a binary loss, class indices otherwise."""
    import torch

    raw = np.fromfile(file, dtype=np.uint8)
    n = len(raw) // 785
    x = torch.from_numpy(raw[n:].reshape(n, 784).astype(np.float32) / 255)
    labels = torch.from_numpy(raw[:n].astype(np.int64))
    return x, (labels.float().view(-1, 1) if binary else labels)


def load_salt_data(file):
    """Case (i)'s arrays (scripts/bench/cases.ts writes them): n padded images of 128x128 float32, then n masks of
    101x101 bytes; returned NCHW, as torch's convolutions take them."""
    import torch

    raw = np.fromfile(file, dtype=np.uint8)
    n = len(raw) // (128 * 128 * 4 + 101 * 101)
    x = torch.from_numpy(raw[:n * 128 * 128 * 4].view(np.float32).reshape(n, 1, 128, 128).copy())
    y = torch.from_numpy(raw[n * 128 * 128 * 4:].reshape(n, 1, 101, 101).astype(np.float32))
    return x, y


def load_start(model, start):
    """Our side's initial parameters, in order: Linear weights [in, out] (torch keeps [out, in]), conv
    filters [k, k, in, out] (torch: [out, in, k, k]), biases as they are."""
    import torch

    flat = np.fromfile(start["params"], dtype=np.float32)
    params = list(model.parameters())
    assert len(params) == len(start["shapes"]), "the two sides' models have different parameters"
    offset = 0
    with torch.no_grad():
        for p, shape in zip(params, start["shapes"]):
            size = int(np.prod(shape))
            w = flat[offset:offset + size].reshape(shape)
            offset += size
            if len(shape) == 2:
                w = w.T
            elif len(shape) == 4:
                w = w.transpose(3, 2, 0, 1)
            assert tuple(w.shape) == tuple(p.shape), f"parameter shapes differ: ours {shape}, torch {tuple(p.shape)}"
            p.copy_(torch.from_numpy(np.ascontiguousarray(w)))


def finite(v):
    # JSON has no NaN; a diverged loss is reported as null.
    return v if math.isfinite(v) else None


def case_runner(spec, case):
    """Builds one training case (our side's data, weights and batch orders) and returns a function that
    trains epoch `run` and returns (milliseconds, mean loss, first batch's loss)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    dev = torch.device(spec.get("device", "cpu"))

    class SameConv(nn.Conv2d):
        """A stride-2 3x3 convolution with TensorFlow's "same" padding, which puts the odd pixel of padding
        after the image (28 -> 14 pads 0 before, 1 after), where padding=1 would pad 1 on both sides."""

        def forward(self, x):
            pads = []
            for size in (x.shape[3], x.shape[2]):  # F.pad takes the last axis first
                total = max((-(-size // 2) - 1) * 2 + 3 - size, 0)
                pads += [total // 2, total - total // 2]
            return F.conv2d(F.pad(x, pads), self.weight, self.bias, stride=2)

    def conv(ni, nf):
        return SameConv(ni, nf, 3)

    class ChannelsLast(nn.Module):
        """NCHW -> NHWC, so that flattening orders the features as TensorFlow.js's NHWC tensors do."""

        def forward(self, x):
            return x.permute(0, 2, 3, 1)

    archs = {
        "linear": lambda: nn.Linear(784, 1),
        "simple_net": lambda: nn.Sequential(nn.Linear(784, 30), nn.ReLU(), nn.Linear(30, 1)),
        "mlp": lambda: nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)),
        "cnn": lambda: nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            conv(1, 8), nn.ReLU(), conv(8, 16), nn.ReLU(), conv(16, 32), nn.ReLU(), conv(32, 32), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 1)),
        "cnn10": lambda: nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            conv(1, 16), nn.ReLU(), conv(16, 32), nn.ReLU(), conv(32, 64), nn.ReLU(), conv(64, 64), nn.ReLU(),
            ChannelsLast(), nn.Flatten(), nn.Linear(256, 10)),
        # Dropout 0, as on our side: random masks would make the two sides' losses differ.
        "resnet18": lambda: nn.Sequential(nn.Unflatten(1, (1, 28, 28)), *resnet18_body(1), fastai_head(512, 2, ps=0.0)),
    }

    def mnist_loss(logits, targets):
        p = logits.sigmoid().flatten()
        return torch.where(targets.flatten() == 1, 1 - p, p).mean()

    losses = {
        "mnist": mnist_loss,
        "bce": lambda logits, t: F.binary_cross_entropy_with_logits(logits.flatten(), t.flatten()),
        "ce": F.cross_entropy,
        "pixel_bce": F.binary_cross_entropy_with_logits,
    }

    start = case["start"]
    if case["arch"] == "unet":
        # The U-Net the tests check against ours, layer by layer (test/fixtures/unet_reference.py).
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures"))
        import unet_reference

        x, y = load_salt_data(spec["data_files"]["salt"])
        model = unet_reference.UNet(case["channels"], crop=[101, 101])
        flat = np.fromfile(start["params"], dtype=np.float32)
        sizes = [int(np.prod(s)) for s in start["shapes"]]
        offsets = np.cumsum([0] + sizes)
        unet_reference.load_params(model, [flat[a:b].reshape(s) for a, b, s in zip(offsets[:-1], offsets[1:], start["shapes"])])
        model.train()
    else:
        x, y = load_training_data(spec["data_files"][case["data"]], case["data"] == "sample" and case["loss"] != "ce")
        model = archs[case["arch"]]()
        load_start(model, start)
    x, y = x.to(dev), y.to(dev)
    loss_func = losses[case["loss"]]
    n, bs = len(x), case["bs"]
    model.to(dev)
    orders = torch.from_numpy(np.fromfile(start["orders"], dtype=np.int32).astype(np.int64)).view(-1, n).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=case["lr"])
    steps = min(case["steps"] or n, -(-n // bs))
    sizes = torch.tensor([min(bs, n - i * bs) for i in range(steps)], dtype=torch.float64)

    def run_epoch(run):
        # Epoch `run` takes shuffle number `run`'s first `steps` batches: the orders our side's DataLoader
        # drew, so both sides see the same batches.
        batch_losses = []
        t0 = time.perf_counter()
        perm = orders[run]
        for i in range(steps):
            idx = perm[i * bs:(i + 1) * bs]
            loss = loss_func(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            opt.zero_grad()
            batch_losses.append(loss.detach())
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        ms = (time.perf_counter() - t0) * 1000
        # Weighted by batch size, as our Recorder averages an epoch.
        mean = float((torch.stack(batch_losses).double().cpu() * sizes).sum() / sizes.sum())
        return ms, finite(mean), finite(float(batch_losses[0]))

    return run_epoch


def about_torch(spec):
    import torch

    out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
    dev = torch.device(spec.get("device", "cpu"))
    if dev.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(dev)
    else:
        # On the CPU its matrix products run in OpenBLAS (when it links it), on OpenBLAS's own threads,
        # whatever the intra-op count above says.
        try:
            import ctypes
            out["blas_threads"] = ctypes.CDLL("libopenblas.so.0").openblas_get_num_threads()
        except (OSError, AttributeError):
            pass
    return out


def main():
    global LIMIT
    mode = sys.argv[1] if len(sys.argv) > 1 else "loads"
    spec = json.loads(sys.stdin.readline())
    LIMIT = spec["limit"]
    if mode == "load_mnist":
        t0 = time.perf_counter()
        x, _ = load_mnist_train(spec["mnist"])
        print(json.dumps({"load_ms": (time.perf_counter() - t0) * 1000, "n": len(x)}))
    elif mode == "load":
        print(json.dumps({"load_ms": timed_load(spec["sample"])[0]}))
    elif mode == "loads":
        cold = timed_load(spec["sample"])[0]
        warm = [timed_load(spec["sample"])[0] for _ in range(spec["warm_loads"])]
        print(json.dumps({"load_ms": cold, "warm_load_ms": warm}))
    elif mode == "serve":
        # One case, one epoch per request line ({"run": k}), so that the two sides can take turns.
        import torch

        torch.manual_seed(0)
        run_epoch = case_runner(spec, spec["case"])
        print(json.dumps({"ready": True, **about_torch(spec)}), flush=True)
        for line in sys.stdin:
            request = json.loads(line)
            if "run" not in request:
                break
            ms, loss, first = run_epoch(request["run"])
            print(json.dumps({"ms": ms, "loss": loss, "first_loss": first}), flush=True)
    else:
        sys.exit(f"unknown mode {mode!r}: load, loads or serve")


if __name__ == "__main__":
    main()
