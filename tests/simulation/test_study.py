"""Study description, TOML loading, design expansion and stable keys."""

from __future__ import annotations

import hashlib
import re
import textwrap

import numpy as np
import pandas as pd
import pytest

from beliefreg import Study
from beliefreg.belief import ChoiceSet
from beliefreg.simulation import StudyError, load_study
from beliefreg.simulation.design import expand, format_choices
from beliefreg.simulation.keys import canonical_json, derive_seed, stable_hash
from beliefreg.simulation.layout import chat_messages, completion_prompt

YN = {"yes": ["Yes"], "no": ["No"]}


def test_full_factorial_order_and_ids():
    s = Study(prompt="p={price} b={brand}", choices=YN,
              conditions={"price": [1, 2, 3], "brand": ["a", "b"]}, runs=2)
    table = s.condition_table
    assert list(table.columns) == ["price", "brand"]
    assert len(table) == 6 and s.n_requests == 12
    assert table.iloc[0].tolist() == [1, "a"] and table.iloc[1].tolist() == [1, "b"]
    items = expand(s)
    assert [(it.condition_id, it.run) for it in items[:4]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert items[2].question == "p=1 b=b"


def test_dataframe_conditions_keep_rows_and_dtypes():
    df = pd.DataFrame({"price": [0.3, 0.35], "round": [False, True]}, index=[10, 20])
    s = Study(prompt="{price} {round}", choices=YN, conditions=df)
    assert s.condition_table.index.tolist() == [0, 1]
    assert s.condition_table["round"].dtype == bool
    assert [it.question for it in expand(s)] == ["0.3 False", "0.35 True"]


def test_no_conditions_is_one_condition():
    s = Study(prompt="Buy?", choices=YN, runs=3)
    assert s.n_conditions == 1 and s.n_requests == 3


@pytest.mark.parametrize("kwargs, match", [
    (dict(prompt="{missing}"), "placeholders without a variable"),
    (dict(prompt="x", runs=0), "runs"),
    (dict(prompt="x", temperature=3.0), "temperature"),
    (dict(prompt="x", top_p=0.0), "top_p"),
    (dict(prompt="x", max_tokens=0), "max_tokens"),
    (dict(prompt="x", pivot="anchor"), "anchor"),
    (dict(prompt="x", pivot="last"), "pivot"),
    (dict(prompt="{run}", conditions={"run": [1]}), "reserved"),
    (dict(prompt="{belief_x}", conditions={"belief_x": [1]}), "reserved"),
    (dict(prompt="{0}"), "variable name"),
    (dict(prompt="x", conditions={"price": []}), "no values"),
    (dict(prompt="x", sampled={"persona": []}), "non-empty"),
    (dict(prompt="{a}", conditions={"a": [1]}, sampled={"a": [2]}), "both"),
    (dict(prompt="{price}", conditions={"price": [30, "sixty"]}),
     r"condition variable 'price' mixes value types: 30 \(int\), 'sixty' \(str\)"),
    (dict(prompt="{price}", conditions=pd.DataFrame({"price": [30, "x", 40]})),
     r"'price' mixes value types: 30 \(int\), 'x' \(str\)"),
    (dict(prompt="{p}", sampled={"p": ["a parent", 3]}),
     r"sampled variable 'p' mixes value types: 'a parent' \(str\), 3 \(int\)"),
])
def test_invalid_studies_raise_study_error(kwargs, match):
    kwargs.setdefault("choices", YN)
    with pytest.raises(StudyError, match=match):
        Study(**kwargs)


def test_one_type_per_variable_is_accepted():
    s = Study(prompt="{price} {brand} {organic} {p}", choices=YN,
              conditions={"price": [30, 35.5], "brand": ["a", "b"], "organic": [True, False]},
              sampled={"p": [1, 2.5]})
    assert s.n_conditions == 8


def test_mixed_types_in_a_toml_study_are_refused_before_sending(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('prompt = "{price} {choices}"\n[choices]\nyes = ["Yes"]\nno = ["No"]\n'
                    '[conditions]\nprice = [30, "sixty"]\n')
    with pytest.raises(StudyError, match="'price' mixes value types"):
        load_study(path)


def test_choices_become_a_choice_set_and_errors_are_study_errors():
    s = Study(prompt="x", choices=YN)
    assert isinstance(s.choices, ChoiceSet) and s.alternatives == ["yes", "no"]
    with pytest.raises(StudyError, match="invalid choices"):
        Study(prompt="x", choices={"a": ["Yes"], "b": ["yes"]})  # same token after case folding


def test_choices_placeholder_and_shuffled_order_are_seeded_per_condition_and_run():
    s = Study(prompt="Pick {choices}.", choices={"a": ["Apple"], "b": ["Banana"], "c": ["Cherry"]},
              conditions={"x": [1, 2]}, runs=6, shuffle_choices=True, seed=3)
    items = expand(s)
    orders = {it.choice_order for it in items}
    assert len(orders) > 1  # shuffled
    for it in items:
        labels = {"a": "Apple", "b": "Banana", "c": "Cherry"}
        assert it.question == "Pick " + format_choices([labels[a] for a in it.choice_order]) + "."
    # independent of the other conditions: drop one condition, the same (condition, run) keeps
    # its order
    s2 = s.replace(conditions={"x": [2]})
    again = {(it.variables["x"], it.run): it.choice_order for it in expand(s2)}
    assert all(again[(it.variables["x"], it.run)] == it.choice_order
               for it in items if it.variables["x"] == 2)
    # a new draw reshuffles
    assert [it.choice_order for it in expand(s, draw=1)] != [it.choice_order for it in items]
    unshuffled = s.replace(shuffle_choices=False)
    assert {it.choice_order for it in expand(unshuffled)} == {("a", "b", "c")}


def test_sampled_variables_uniform_and_reproducible():
    personas = ["a student", "a parent", "a retiree", "a nurse"]
    s = Study(prompt="You are {persona}. Buy at {price}?", choices=YN,
              conditions={"price": [1, 2, 3, 4, 5]}, runs=200, sampled={"persona": personas},
              seed=11)
    items = expand(s)
    drawn = [it.variables["persona"] for it in items]
    assert drawn == [it.variables["persona"] for it in expand(s)]
    counts = pd.Series(drawn).value_counts()
    assert set(counts.index) == set(personas)
    # chi-square goodness of fit to uniform, alpha = 0.001 (seeded, deterministic)
    from scipy import stats

    assert stats.chisquare(counts.to_numpy()).pvalue > 0.001
    assert all(it.question.startswith(f"You are {it.variables['persona']}.") for it in items)


def test_templates_with_literal_braces_and_system():
    s = Study(prompt="JSON {{\"price\": {price}}}", system="Shopper with {budget}.",
              choices=YN, conditions={"price": [5], "budget": ["$10"]})
    it = expand(s)[0]
    assert it.question == 'JSON {"price": 5}' and it.system == "Shopper with $10."


def test_layouts():
    msgs = chat_messages("sys", [("q1", "a1")], "q")
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert completion_prompt("sys", [("q1", "a1")], "q") == "sys\n\nQ: q1\nA: a1\n\nQ: q\nA:"


def test_toml_round_trip(tmp_path):
    (tmp_path / "design.csv").write_text("price,brand\n30,pampers\n40,huggies\n")
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent("""
        name = "diapers"
        system = "You are a shopper."
        prompt = "Would you buy {brand} at {price} cents? Answer {choices}."
        runs = 3
        seed = 5
        temperature = 1.0
        max_tokens = 1
        conditions = "design.csv"

        [choices]
        yes = ["Yes"]
        no = ["No"]

        [choice_options]
        casefold = false

        [sampled]
        persona = ["a student", "a parent"]

        [[examples]]
        question = "Is the sky blue?"
        answer = "Yes"

        [simulate]
        backend = "local"
    """))
    s = load_study(path)
    assert s.name == "diapers" and s.runs == 3 and s.seed == 5
    assert s.condition_table.to_dict("list") == {"price": [30, 40], "brand": ["pampers", "huggies"]}
    assert s.examples == (("Is the sky blue?", "Yes"),)
    assert s.choices.casefold is False
    assert s.sampled == {"persona": ["a student", "a parent"]}
    bad = tmp_path / "bad.toml"
    bad.write_text('prompt = "x"\nchoices = {yes = "Yes", no = "No"}\nrunz = 2\n')
    with pytest.raises(StudyError, match="unknown study keys"):
        load_study(bad)


def test_keys_are_canonical_and_stable():
    a = {"b": [1, 2.5, "x"], "a": {"z": None, "y": True}}
    assert canonical_json(a) == '{"a":{"y":true,"z":null},"b":[1,2.5,"x"]}'
    assert stable_hash(a) == stable_hash({"a": {"y": True, "z": None}, "b": [1, 2.5, "x"]})
    assert stable_hash({"x": np.int64(3)}) == stable_hash({"x": 3})
    # pinned: the key of a request must never change between versions or platforms
    assert stable_hash({"run": 0, "a": "é"}) == \
        hashlib.sha256('{"a":"é","run":0}'.encode()).hexdigest()
    assert derive_seed(1, "x", 0) == derive_seed(1, "x", 0) != derive_seed(1, "x", 1)
    with pytest.raises(TypeError):
        canonical_json({"x": float("nan")})


def test_the_readme_study_file_is_the_readme_python_study(tmp_path):
    """The README's TOML block describes the same study as its Python example (same requests)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    toml = re.search(r"```toml\n(.*?)```", readme, re.S).group(1)
    path = tmp_path / "study.toml"
    path.write_text(toml)
    from_file = load_study(path)
    python = re.search(r"study = br\.Study\((.*?)\n\)\n", readme, re.S).group(1)
    from_code = eval(f"Study({python})", {"Study": Study})  # noqa: S307 - the README's own code
    from dataclasses import fields

    for f in fields(Study):  # Study compares by identity (its conditions may be a DataFrame)
        if f.compare:
            assert getattr(from_file, f.name) == getattr(from_code, f.name), f.name
    assert [(i.question, i.variables) for i in expand(from_file)] == \
        [(i.question, i.variables) for i in expand(from_code)]


def test_a_study_file_without_choices_says_what_is_missing(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('prompt = "Would you buy it? {choices}"\nruns = 2\n')
    with pytest.raises(StudyError, match=r"the study needs 'choices' \(a top-level prompt"):
        load_study(path)
    path.write_text('[choices]\nyes = ["Yes"]\nno = ["No"]\n')
    with pytest.raises(StudyError, match="the study needs 'prompt'"):
        load_study(path)


def test_study_files_name_the_example_and_the_simulate_key_at_fault(tmp_path):
    """A misspelt key in an example, or in the [simulate] table, is refused by load_study
    itself (so `report --study` refuses it as `simulate` does), naming the example."""
    head = 'prompt = "x {choices}"\n[choices]\nyes = ["Yes"]\nno = ["No"]\n'
    ex = tmp_path / "ex.toml"
    ex.write_text(head + '[[examples]]\nquestion = "a"\nanswer = "b"\n'
                         '[[examples]]\nquestion = "c"\nanwser = "d"\n')
    with pytest.raises(StudyError, match=r"example 2 \(of 2\) needs exactly 'question' and "
                                         r"'answer'; missing \['answer'\]; unknown \['anwser'\]"):
        load_study(ex)
    sim = tmp_path / "sim.toml"
    sim.write_text(head + "[simulate]\nconcurency = 4\n")
    with pytest.raises(StudyError, match=r"unknown \[simulate\] keys \['concurency'\]; known: "
                                         r"\[.*'concurrency'"):
        load_study(sim)
    with pytest.raises(StudyError, match=r"example 1 \(of 1\) must be a \(question, answer\) "
                                         r"pair"):
        Study(prompt="x {choices}", choices={"yes": ["Yes"], "no": ["No"]}, examples=["ab"])


def test_study_file_errors_name_the_file(tmp_path):
    head = 'prompt = "x {choices}"\n[choices]\nyes = ["Yes"]\nno = ["No"]\n'
    ex = tmp_path / "ex.toml"
    ex.write_text(head + '[[examples]]\nquestion = "a"\n')
    with pytest.raises(StudyError, match=rf"^{re.escape(str(ex))}: example 1 \(of 1\)"):
        load_study(ex)
    nocsv = tmp_path / "nocsv.toml"
    nocsv.write_text('prompt = "x {price} {choices}"\nconditions = "nope.csv"\n'
                     '[choices]\nyes = ["Yes"]\nno = ["No"]\n')
    with pytest.raises(StudyError, match=r"conditions = 'nope.csv': no file at .*nope.csv \(a "
                                         r"relative path is relative to the study file\)"):
        load_study(nocsv)
