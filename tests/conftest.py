"""Shared test settings."""

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The test machine is shared: one thread keeps its speed when other processes are busy, two collapse."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
