"""One torch thread while these tests run: on a shared, loaded 2-core machine two threads spin
against other processes and make tiny forward passes ~30x slower. Restored afterwards."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="package", autouse=True)
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
