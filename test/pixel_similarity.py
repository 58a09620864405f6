#!/usr/bin/python3
"""The pixel-similarity baseline on all ten MNIST digits, computed with numpy from the original IDX files.

usage: pixel_similarity.py <folder with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-...>

One mean image per digit over the training images (pixels / 255), then each test image is given the digit
whose mean image is closest by the mean absolute difference (L1). Prints one JSON object:
{"correct": <test images classified right>, "total": <test images>}. An independent check of notebook 04c,
which does the same from the PNG files with TensorFlow.js.
"""
import gzip
import json
import os
import sys

import numpy as np


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


folder = sys.argv[1]
train_x = read_idx(os.path.join(folder, "train-images-idx3-ubyte.gz")).astype(np.float64) / 255
train_y = read_idx(os.path.join(folder, "train-labels-idx1-ubyte.gz"))
test_x = read_idx(os.path.join(folder, "t10k-images-idx3-ubyte.gz")).astype(np.float64) / 255
test_y = read_idx(os.path.join(folder, "t10k-labels-idx1-ubyte.gz"))

means = np.stack([train_x[train_y == d].mean(axis=0) for d in range(10)])
distances = np.stack([np.abs(test_x - m).mean(axis=(1, 2)) for m in means], axis=1)  # [n, 10]
correct = int((distances.argmin(axis=1) == test_y).sum())
print(json.dumps({"correct": correct, "total": int(len(test_y))}))
