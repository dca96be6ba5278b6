"""IsoFLOP sweeps: ``design`` (the grid), ``rules`` (batch size and learning rate from size and budget),
``store`` (one crash-safe folder per run) and ``executors`` (local or Ray). No torch at import."""
