"""beliefreg.compare: the numbers, stars, statistics, and the three renderings."""

import re

import numpy as np
import pytest

import beliefreg as br
from beliefreg.datasets import load_401k


@pytest.fixture(scope="module")
def fits():
    data = load_401k()
    f = "prate01 ~ mrate + np.log(totemp)"
    return {
        "HC0": br.FractionalLogit.from_formula(f, data).fit(),
        "cluster": br.FractionalLogit.from_formula(f + " + sole", data).fit(
            cov_type="cluster", cov_kwds={"groups": "age"}),
        "probit": br.FractionalProbit.from_formula(f, data).fit(),
    }


def test_numbers_and_layout(fits):
    t = br.compare(fits)
    assert list(t.params.columns) == ["HC0", "cluster", "probit"]
    assert list(t.params.index) == ["Intercept", "mrate", "np.log(totemp)", "sole"]
    np.testing.assert_array_equal(t.bse["cluster"].dropna(), fits["cluster"].bse)
    assert np.isnan(t.params.loc["sole", "HC0"])
    assert t.stats.loc["Covariance", "cluster"] == "cluster by age"
    assert t.stats.loc["Clusters", "cluster"] == "44"
    assert t.stats.loc["Observations", "HC0"] == "1,534"
    # one estimate row and one (SE) row per term
    assert t.frame.iloc[3]["HC0"] == f"({fits['HC0'].bse['mrate']:.4f})"


def test_stars_follow_the_pvalues(fits):
    t = br.compare(fits, stars=(0.05, 0.01), digits=3)
    p = fits["cluster"].pvalues["sole"]
    n_stars = sum(p < s for s in (0.05, 0.01))
    cell = t.frame.iloc[6]["cluster"]
    assert cell == f"{fits['cluster'].params['sole']:.3f}" + "*" * n_stars
    plain = br.compare(fits, stars=None)
    assert "*" not in plain.as_text().split("Standard errors")[0]


def test_text_html_latex(fits):
    t = br.compare(list(fits.values()))
    text = str(t)
    assert "(1)" in text and "(3)" in text and "Standard errors in parentheses" in text
    html = t.as_html()
    assert html.startswith("<table") and "<th>np.log(totemp)</th>" in html
    assert t._repr_html_() == html
    latex = t.as_latex()
    assert latex.startswith(r"\begin{tabular}{lccc}") and latex.endswith(r"\end{tabular}")
    assert r"$^{***}$" in latex and "\\toprule" in latex
    # every data row has the same number of cells
    rows = [r for r in latex.splitlines() if r.endswith(r"\\") and "multicolumn" not in r]
    assert {len(re.split(r"(?<!\\)&", r)) for r in rows} == {4}


def test_terms_selection_and_errors(fits):
    t = br.compare(fits, terms=["mrate"])
    assert list(t.params.index) == ["mrate"]
    with pytest.raises(KeyError, match=r"terms \['age'\] are in none of the models"):
        br.compare(fits, terms=["age"])
    with pytest.raises(ValueError, match="at least one"):
        br.compare({})
    with pytest.raises(TypeError, match="not a results object"):
        br.compare({"x": 3})


def test_latex_escapes_special_characters():
    from beliefreg.tables import _latex_escape
    assert _latex_escape("a_b & 50%") == r"a\_b \& 50\%"


def test_a_multinomial_outcome_is_named_not_printed_as_a_list():
    rng = np.random.default_rng(4)
    n = 300
    price = rng.uniform(1, 3, n)
    shares = rng.dirichlet([2, 2, 2], n)
    data = {"a": shares[:, 0], "b": shares[:, 1], "c": shares[:, 2], "price": price}
    res = br.MultinomialFractionalLogit.from_formula("a + b + c ~ price", data).fit()
    t = br.compare({"shares": res})
    assert t.stats.loc["Dependent variable", "shares"] == "a, b, c"
