"""What one run shares: runtime, sender, STATE tracker, ledger, rejects, stats, progress, reader."""
