"""A local, faithful emulator of the Salesforce Pardot API and its OAuth endpoint.

It shares no code with the target (``target_pardot`` never imports it, and it
imports nothing from ``target_pardot`` outside this package), so a payload bug
in the target cannot hide behind the emulator.
"""

from .embedded import PardotEmulator

__all__ = ["PardotEmulator"]
