"""Training small GPTs for IsoFLOP sweeps: `spec` (what to train, no torch), `data` (token sources, numpy),
`model` (the GPT, torch) and `trainer` (the loop, torch).

Nothing here imports torch at package import: `isoflop.train.spec` and `isoflop.train.data` are pure
NumPy so that sweep design and the planners stay torch-free; import `isoflop.train.trainer` to train.
"""
