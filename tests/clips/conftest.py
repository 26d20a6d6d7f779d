"""Each clip test starts with no timelines read in this process, as a new worker would."""

import pytest

from verify.clips.services import forget_timelines


@pytest.fixture(autouse=True)
def fresh_timelines():
    forget_timelines()
    yield
    forget_timelines()
