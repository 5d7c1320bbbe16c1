"""Benchmarks of the admission webhook and the controller: `python -m bench webhook|controller`.

Benchmarks are not tests: they measure and report, and assert nothing about timing. The figures
of a real run and the machine it ran on are in `bench/RESULTS.md`.
"""
