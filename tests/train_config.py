"""The small training configuration the tests in this folder share (a module of its own, not
``conftest``: every test folder has a ``conftest`` and the name would resolve to whichever was
imported last)."""

from causalmmm_jax.config import Config


def small_config(**train):
    base = {"epochs": 40, "chunk_epochs": 20, "warm_start_epochs": 5}
    base.update(train)
    return Config().updated(model={"hidden_dim": 8}, data={"holdout_weeks": 8, "validation_weeks": 6,
                                                          "min_train_weeks": 20}, train=base)
