"""The lite tier: a synthetic world of coloured shapes in which every fact is known, and everything
built on it (tasks and their exact scoring, dataset files, held-out sets, the offline judge, the text
oracle, the lite backbones' pretraining, the results table).

The paper's modules (data formats, model, training loop, evaluation protocols, judge client) never
import this package; the command-line fronts (`data/cli.py`, `train/cli.py`, `eval/cli.py`), the demo,
the chat window, the attention and influence analysis over lite examples (`viz.reference`), the
notebooks and the exercises join the two (`tests/test_import_graph.py`).
"""
