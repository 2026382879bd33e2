"""Checks for the exercise notebooks (exercises/NN_*.ipynb; worked solutions in exercises/solutions/).

    from sparkles_lite.exercises import check_patchify
    check_patchify(patchify)   # prints ✅ / ❌ (with the failing input) / ⬜ not yet solved

`summary()` sums up every check run so far in this notebook.
"""

from sparkles_lite.exercises._runner import RESULTS, summary
from sparkles_lite.exercises.checks import *  # noqa: F403
from sparkles_lite.exercises.checks import __all__ as _checks

__all__ = [*_checks, "summary", "RESULTS"]
