import pytest

pytest_plugins = ["interpreto_core.testing"]


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Tiny models (and MiniLM on short pairs) run faster on one thread: thread start-up dominates."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
