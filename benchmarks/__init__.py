"""regstore's benchmark suite: every figure a ratio to a baseline measured in the same run.

Run it with ``scripts/bench [--driver NAME] [--quick]`` (or ``python -m benchmarks``).
Each backend family has a module that builds the contenders (regstore through
``regstore.create``, the raw SDK baseline, the peers that reach the same
backend); ``cases`` runs the same workloads over all of them, interleaved and
repeated, and keeps the best time of each.
"""
