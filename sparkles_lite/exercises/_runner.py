"""The machinery behind every `check_<name>`: run a student's function on hidden cases, compare with
the package's reference implementation, print one clear line. A check returns nothing, so a check
cell shows only its line (no `Out: False` under it); `RESULTS` keeps each verdict for `summary()`.

A case's expected value is computed by calling the reference on a deep copy of the inputs; when the
reference raises (a ValueError for bad input), the student's function must raise the same kind of
error. The student's function also gets a deep copy, and must leave it unchanged.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

PASS, FAIL, TODO = "✅", "❌", "⬜"
NOT_SOLVED = "not yet solved"

# Every check run in this Python process, in order: name -> its mark (PASS, FAIL or TODO); the
# notebook's last cell sums up.
RESULTS: dict[str, str] = {}


@dataclass
class Case:
    """One hidden test: positional/keyword arguments, how to show them, and a hint for a failure."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    show: str | None = None      # how the input is printed (default: the arguments' reprs)
    hint: str | None = None      # printed after a failure on this case: what this case is about


@dataclass
class Outcome:
    ok: bool
    message: str


def run_check(name: str, candidate: Any, cases: Sequence[Case], reference: Callable,
              compare: Callable[[Any, Any], bool] | None = None,
              extra: Callable[[Callable], str | None] | None = None) -> None:
    """Print one line (✅ / ❌ / ⬜ not yet solved) and record its mark in RESULTS.

    `compare(expected, got)` defaults to `same` (tolerant for floats and tensors). `extra(candidate)`
    runs after the cases pass and returns an error message (or None) for checks values cannot express,
    such as "gradients must flow through your function".
    """
    outcome = _evaluate(candidate, cases, reference, compare or same, extra)
    mark = PASS if outcome.ok else (TODO if outcome.message.startswith(NOT_SOLVED) else FAIL)
    print(f"{mark} {name}: {outcome.message}")
    RESULTS[name] = mark


def _evaluate(candidate, cases, reference, compare, extra) -> Outcome:
    if candidate is None or not callable(candidate):
        return Outcome(False, f"{NOT_SOLVED}: pass your function itself, e.g. check(my_function), "
                              f"not {type(candidate).__name__} {show(candidate)}")
    if not cases:
        raise RuntimeError("a check without cases would pass anything")
    for case in cases:
        label = case.show if case.show is not None else ", ".join(
            [show(a) for a in case.args] + [f"{k}={show(v)}" for k, v in case.kwargs.items()])
        hint = f" ({case.hint})" if case.hint else ""
        try:
            expected, expected_error = reference(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs)), None
        except Exception as exc:  # the reference refuses this input: so must the student
            expected, expected_error = None, exc
        args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
        try:
            got = candidate(*args, **kwargs)
        except NotImplementedError:
            return Outcome(False, f"{NOT_SOLVED}: your function raised NotImplementedError "
                                  "(replace `raise NotImplementedError` with your code)")
        except Exception as exc:
            if expected_error is not None and isinstance(exc, _public_error(expected_error)):
                continue
            want = (f"{_public_error(expected_error).__name__}" if expected_error is not None
                    else f"{show(expected)}")
            return Outcome(False, f"for input {label} expected {want}, got {type(exc).__name__}: "
                                  f"{_short(str(exc))}{hint}")
        if expected_error is not None:
            return Outcome(False, f"for input {label} expected {_public_error(expected_error).__name__} "
                                  f"({_short(str(expected_error))}), got {show(got)}{hint}")
        if not compare(expected, got):
            forgot = " (did you forget `return`?)" if got is None and expected is not None else ""
            where = tensor_difference(expected, got)
            return Outcome(False, f"for input {label} expected {show(expected)}, got {show(got)}"
                                  f"{forgot}{f'; {where}' if where else ''}{hint}")
        if not same(case.args, args) or not same(case.kwargs, kwargs):
            return Outcome(False, f"for input {label} your function changed its input in place; "
                                  "build a new result instead (copy first if you need to)")
    if extra is not None:
        try:
            problem = extra(candidate)
        except NotImplementedError:
            problem = "your function raised NotImplementedError"
        except Exception as exc:
            problem = f"{type(exc).__name__}: {_short(str(exc))}"
        if problem:
            return Outcome(False, problem)
    n = len(cases) + (extra is not None)
    return Outcome(True, f"all {n} cases pass")


def _public_error(exc: Exception) -> type:
    """The built-in error class a student is asked to raise: the package's AssemblyError is a
    ValueError, and `raise ValueError(...)` is the right answer."""
    return next(c for c in type(exc).__mro__ if c.__module__ == "builtins")


# ---------------------------------------------------------------- comparing and showing

def same(a: Any, b: Any, rel: float = 1e-6, abs_tol: float = 1e-6) -> bool:
    """Deep equality; floats and tensors within tolerance; tuples and lists interchangeable."""
    torch = _torch()
    if torch is not None and (isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor)):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False
        if a.shape != b.shape:
            return False
        if a.dtype == torch.bool or b.dtype == torch.bool:
            return a.dtype == b.dtype and bool(torch.equal(a, b))
        a64, b64 = a.detach().double(), b.detach().double()
        return bool(torch.allclose(a64, b64, rtol=1e-4, atol=1e-5, equal_nan=False))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) or isinstance(b, float):
            return math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol)
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y, rel, abs_tol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], rel, abs_tol) for k in a)
    if a is None or b is None:
        return a is b
    try:
        return bool(a == b)
    except Exception:
        return False


def tensor_difference(expected: Any, got: Any) -> str | None:
    """Where two same-shaped tensors differ, for a message whose shapes alone read identical:
    'first difference at [0, 2, 1] (expected 0.5, got -1.2), largest difference 1.7'."""
    torch = _torch()
    if torch is None or not (isinstance(expected, torch.Tensor) and isinstance(got, torch.Tensor)):
        return None
    if expected.shape != got.shape:
        return None
    a, b = expected.detach().double(), got.detach().double()
    far = ~torch.isclose(a, b, rtol=1e-4, atol=1e-5)
    if not bool(far.any()):
        return None
    first = [int(i) for i in torch.nonzero(far)[0]]
    return (f"first difference at {first} (expected {a[tuple(first)].item():.4g}, got {b[tuple(first)].item():.4g}), "
            f"largest difference {(a - b).abs().nan_to_num(float('inf')).max().item():.4g}")


def show(x: Any, limit: int = 160) -> str:
    torch = _torch()
    if torch is not None and isinstance(x, torch.Tensor):
        if x.numel() <= 12:
            values = [round(v, 4) if isinstance(v, float) else v for v in x.detach().flatten().tolist()]
            return f"tensor(shape {tuple(x.shape)}, {str(x.dtype).replace('torch.', '')}, values {values})"
        return f"tensor(shape {tuple(x.shape)}, {str(x.dtype).replace('torch.', '')})"
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, (list, tuple)) and x and all(isinstance(v, float) for v in x):
        inner = ", ".join(f"{v:.6g}" for v in x)
        return _short(f"[{inner}]" if isinstance(x, list) else f"({inner})", limit)
    return _short(repr(x), limit)


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _torch():
    import sys

    return sys.modules.get("torch")


def summary() -> None:
    """One line for every check run so far in this notebook: ✅ passed, ❌ failed, ⬜ not yet attempted."""
    if not RESULTS:
        print("no checks run yet")
        return
    solved = sum(mark == PASS for mark in RESULTS.values())
    todo = sum(mark == TODO for mark in RESULTS.values())
    print(f"{solved} of {len(RESULTS)} checks pass" + (f", {todo} not yet attempted" if todo else "") + ": "
          + ", ".join(f"{mark} {name}" for name, mark in RESULTS.items()))
