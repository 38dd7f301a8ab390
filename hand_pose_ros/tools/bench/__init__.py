"""``hand-pose-ros bench …``: one module per benchmark, each printing medians and ratios
with its peers side by side in the same run (figures recorded in docs/benchmarks.md)."""
