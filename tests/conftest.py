from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHARED_SKIP = "../shared/data absent"


def shared_file(name: str) -> Path:
    """A file from ../shared/data, or skip the test cleanly where it is absent (counted in the summary)."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{SHARED_SKIP}: {path} not present")
    return path


@pytest.fixture
def local_ray():
    """A local Ray of 2 CPUs for the test, shut down after it (skips where ray is not installed)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def pytest_terminal_summary(terminalreporter):
    """Say how many tests skipped for want of ../shared/data (CI has it; a bare clone does not)."""
    skipped = terminalreporter.stats.get("skipped", [])
    shared = [r for r in skipped if SHARED_SKIP in str(r.longrepr)]
    if shared:
        terminalreporter.write_line(f"{len(shared)} tests skipped: {SHARED_SKIP} (the published data sets live in "
                                    f"../shared/data beside the project; CI has them)", yellow=True)
    else:
        terminalreporter.write_line("../shared/data present: every published-data test ran")


@pytest.fixture
def tb(tmp_path):
    """A folder for TensorBoard logs, where tensorboard and torch's SummaryWriter are installed."""
    pytest.importorskip("tensorboard")
    pytest.importorskip("torch.utils.tensorboard")
    return tmp_path
