"""The small training configuration the tests share (a module of its own beside the root
``conftest``, so it is importable from every test folder; not in a ``conftest``: every test folder
has one and the name would resolve to whichever was imported last).  Tests that fit the train
tests' panel with it share their compiled programs through the persistent cache."""

from causalmmm_jax.config import Config


#: pre-fit epochs of the small test fits (the default 2000 would dominate every test's run time)
SMALL_STATIC_EPOCHS = 100


def small_config(**train):
    # no interval draws unless a test asks for them (test_intervals.py): they would add a program per shape
    base = {"epochs": 40, "chunk_epochs": 20, "warm_start_epochs": 5, "static_epochs": SMALL_STATIC_EPOCHS,
            "interval_draws": 0}
    base.update(train)
    return Config().updated(model={"hidden_dim": 8}, data={"holdout_weeks": 8, "validation_weeks": 6,
                                                          "min_train_weeks": 20}, train=base)
