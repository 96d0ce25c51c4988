"""The examples in the docstrings of beliefreg.belief run and give what they show."""

import doctest
import importlib

import pytest

MODULES = [
    "beliefreg.belief.choices",
    "beliefreg.belief.extract",
    "beliefreg.belief.exact",
    "beliefreg.belief.vocabulary",
    "beliefreg.belief.result",
    "beliefreg.belief.payloads",
    "beliefreg.belief.pivot",
    "beliefreg.belief.mass",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
