"""The suite's own logic behind the scripts in ``tools/``: the stage runner, the leaderboard and its
method registry, the region pictures and the benchmarks. Importing it loads no torch: the runner is
a light process."""
