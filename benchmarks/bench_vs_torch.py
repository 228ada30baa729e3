"""cnnlab vs PyTorch on the CPU, side by side: training steps, inference and single layers.

The machinery lives in ``cnnlab.bench`` (also behind ``cnnlab bench``); this script runs it from the
repository root and, for a full run, updates the bench_vs_torch section of benchmarks/RESULTS.md.

    python benchmarks/bench_vs_torch.py --wait-quiet 120      # every case (about 15 minutes on 2 cores)
    python benchmarks/bench_vs_torch.py --quick               # a one-minute subset
    python benchmarks/bench_vs_torch.py --case train-resnet20-b128 --case conv3x3-c64-fwd
    python benchmarks/bench_vs_torch.py --list
"""

import os
import sys

from cnnlab.bench import main

if __name__ == "__main__":
    os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root
    sys.exit(main())
