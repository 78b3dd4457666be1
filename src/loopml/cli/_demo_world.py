"""The world of ``loopml demo``: card transactions whose fraud pattern changes.

Generated, never downloaded, and deterministic given the seed. Six features:

- ``amount`` (log-normal, EUR), ``hour`` (0-23), ``account_age_days`` (exponential),
  ``tx_last_24h`` (Poisson), ``country`` (FR, DE, ES, IT, GB), ``channel`` (web, app, pos).

Before the change, fraud is large web payments at night from young accounts. After it (the
documented drift), two things happen at once:

- *data drift*: amounts grow (the median by 60%), a new market (PL) takes a fifth of the
  traffic and the app becomes the main channel;
- *concept drift*: fraudsters move to many small app payments in quick succession, so a
  model fitted on the old world misses most of them and its F1 falls.

A model refitted on the old data plus the labelled new window catches both patterns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["FEATURES", "TARGET", "transactions"]

FEATURES = ["amount", "hour", "account_age_days", "tx_last_24h", "country", "channel"]
TARGET = "is_fraud"


def transactions(n: int, *, seed: int, drifted: bool) -> pd.DataFrame:
    """``n`` labelled transactions of the world before (or after) the change."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.6 + (0.47 if drifted else 0.0), 0.9, n)
    hour = rng.integers(0, 24, n)
    age = rng.exponential(420.0, n)
    tx = rng.poisson(4.5 if drifted else 3.0, n)
    countries = ["FR", "DE", "ES", "IT", "GB", "PL"]
    shares = [0.24, 0.2, 0.14, 0.12, 0.1, 0.2] if drifted else [0.3, 0.25, 0.17, 0.15, 0.13, 0.0]
    country = rng.choice(countries, n, p=shares)
    channels = ["web", "app", "pos"]
    channel = rng.choice(channels, n, p=[0.25, 0.55, 0.2] if drifted else [0.5, 0.2, 0.3])
    night = (hour < 6) | (hour >= 23)
    young = age < 90
    # The old pattern, present in both worlds: large web payments at night, young accounts.
    logit = -6.5 + 5.5 * (night & (channel == "web")) + 2.4 * young
    logit = logit + 1.6 * np.log1p(amount / 150)
    if drifted:  # the new pattern: bursts of small app payments
        burst = (channel == "app") & (tx >= 6) & (amount < 60)
        logit = logit + 6.5 * burst
    fraud = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "amount": amount.round(2),
            "hour": hour.astype("int64"),
            "account_age_days": age.round(1),
            "tx_last_24h": tx.astype("int64"),
            "country": country,
            "channel": channel,
            TARGET: fraud.astype("int64"),
        }
    )
