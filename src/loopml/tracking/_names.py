"""Friendly default run names such as ``brave-otter-417``."""

from __future__ import annotations

import secrets

__all__ = ["random_run_name"]

_ADJECTIVES = (
    "amber bold brave bright calm clever crisp daring eager fair gentle glad grand honest "
    "keen kind lively lucid merry nimble noble patient proud quick quiet rapid shy silent "
    "smart steady sunny swift tidy vivid warm wise witty zesty"
).split()
_NOUNS = (
    "otter heron lynx panda falcon badger bison crane dolphin eagle ferret gecko hare ibis "
    "jaguar koala lemur marten newt ocelot osprey puffin quail raven seal stork tapir "
    "toucan urchin viper walrus wombat yak zebra finch moth orca"
).split()


def random_run_name() -> str:
    """A readable, probably-unique name for a run that was not given one."""
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(1000):03d}"
