"""A deterministic simulation of the target against the emulator: generated workloads,
settings, account kinds, faults and restarts, checked by invariants after every step.
See README.md here."""
