import pytest

from causalmmm_jax.config import Config
from causalmmm_jax.data.synthetic import generate


@pytest.fixture(scope="session")
def small_data():
    return generate(1, n_regions=5, n_weeks=70, n_channels=3, n_controls=1, missing_cells=6)


@pytest.fixture(scope="session")
def small_panel(small_data):
    return small_data.panel()


def small_config(**train):
    base = {"epochs": 40, "chunk_epochs": 20, "warm_start_epochs": 5}
    base.update(train)
    return Config().updated(model={"hidden_dim": 8}, data={"holdout_weeks": 8, "validation_weeks": 6,
                                                          "min_train_weeks": 20}, train=base)


@pytest.fixture(scope="session")
def small_fit(small_panel, small_data):
    from causalmmm_jax.train.fit import fit

    return fit(small_panel, small_config(), mapping=small_data.mapping)
