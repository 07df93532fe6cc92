"""Example applications released by nahtlos (the demo and the benchmark run these)."""
