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
