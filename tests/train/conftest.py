import os
import subprocess
import sys
from pathlib import Path

import pytest

from causalmmm_jax.data.synthetic import generate
from train_config import small_config


@pytest.fixture(scope="session")
def small_data():
    return generate(1, n_regions=5, n_weeks=70, n_channels=3, n_controls=1, missing_cells=6)


@pytest.fixture(scope="session")
def small_panel(small_data):
    return small_data.panel()


@pytest.fixture(scope="session")
def small_fit(small_panel, small_data):
    from causalmmm_jax.train.fit import fit

    return fit(small_panel, small_config(), mapping=small_data.mapping)


@pytest.fixture
def run_on_devices():
    """``run(script_text, n_devices, timeout)``: the script in a fresh process that sees ``n_devices``
    forced host devices (the tests' folder importable as ``{tests}`` in the text); asserts it exits 0."""
    def run(text: str, n_devices: int, tmp_path: Path, timeout: float = 900) -> None:
        script = tmp_path / "on_devices.py"
        script.write_text(text.replace("{tests}", repr(str(Path(__file__).resolve().parents[1]))))
        flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={n_devices}".strip()
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=flags))
        assert proc.returncode == 0, proc.stderr[-3000:]

    return run
