"""ChoiceSet: variants, matching, overlap errors."""

import pytest

from beliefreg.belief import ChoiceSet, ChoiceSetError, canonical_token


def test_yes_no_variants_cover_space_markers_and_case():
    cs = ChoiceSet({"yes": ["Yes"], "no": ["No"]})
    for tok in ["Yes", " Yes", "▁Yes", "ĠYes", "yes", "▁yes", "YES", " YES"]:
        assert cs.alternative_of(tok) == "yes", tok
    for tok in ["No", "▁No", "Ġno", "NO", " no"]:
        assert cs.alternative_of(tok) == "no", tok
    for tok in ["Maybe", "Y", "Ye", "Yess", "  Yes", "\nYes", "", None, "yEs"]:
        assert cs.alternative_of(tok) is None, tok


def test_casefold_off_is_case_sensitive():
    cs = ChoiceSet({"yes": ["Yes"], "no": ["No"]}, casefold=False)
    assert cs.alternative_of(" Yes") == "yes"
    assert cs.alternative_of("yes") is None
    assert cs.alternative_of("YES") is None


def test_leading_space_off_uses_forms_literally():
    cs = ChoiceSet({"yes": ["Yes"], "no": ["No"]}, leading_space=False, casefold=False)
    assert cs.alternative_of("Yes") == "yes"
    assert cs.alternative_of(" Yes") is None
    assert cs.variants("yes") == ("Yes",)


def test_sequence_input_uses_forms_as_ids():
    cs = ChoiceSet(["A", "B", "C"])
    assert cs.alternatives == ("A", "B", "C")
    assert cs.alternative_of(" b") == "B"


def test_variants_listing_and_markers():
    cs = ChoiceSet({"pampers": ["Pampers", "P"], "huggies": ["Huggies", "H"]})
    v = cs.variants("pampers")
    assert "Pampers" in v and " Pampers" in v and "PAMPERS" in v and " p" in v
    marked = cs.variants("pampers", markers=True)
    assert "▁Pampers" in marked and "ĠPampers" in marked
    assert cs.n_token_variants("pampers") == len(v)


def test_overlap_between_alternatives_names_token_and_alternatives():
    with pytest.raises(ChoiceSetError) as err:
        ChoiceSet({"a": ["Yes"], "b": ["yes"]})
    msg = str(err.value)
    assert "'yes'" in msg and "'a'" in msg and "'b'" in msg and "casefold=False" in msg
    # without case folding the two are distinct
    assert ChoiceSet({"a": ["Yes"], "b": ["yes"]}, casefold=False).alternative_of("yes") == "b"


def test_overlap_through_leading_space():
    # "P" generates " P"; a form spelled with the SentencePiece marker is the same token
    with pytest.raises(ChoiceSetError, match="' P'"):
        ChoiceSet({"pampers": ["P"], "other": ["▁P"]})
    # literal forms: "P" and " P" are different tokens
    ChoiceSet({"pampers": ["P"], "other": [" P"]}, leading_space=False)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"yes": ["Yes"]}, "at least two"),
        ({}, "at least two"),
        ({"yes": ["Yes"], "no": [""]}, "empty surface form"),
        ({"yes": ["Yes"], "no": ["   "]}, "empty surface form"),
        ({"yes": ["Yes"], "no": [3]}, "not a string"),
        ({"yes": ["Yes"], "": ["No"]}, "non-empty strings"),
        ({"yes": ["Yes"], "no": []}, "no surface form"),
        ("Yes", "mapping"),
    ],
)
def test_invalid_choice_sets_raise_clear_errors(bad, match):
    with pytest.raises(ChoiceSetError, match=match):
        ChoiceSet(bad)


def test_prefix_match_attributes_unique_prefixes():
    cs = ChoiceSet({"pampers": ["Pampers"], "huggies": ["Huggies"]}, prefix_match=True)
    assert cs.alternative_of(" Hug") == "huggies"
    assert cs.alternative_of("▁Pamp") == "pampers"
    assert cs.alternative_of(" ") is None  # whitespace only: shared, undecided
    assert cs.alternative_of(" Pampers") == "pampers"
    # without prefix matching, a first piece is not the label
    assert (
        ChoiceSet({"pampers": ["Pampers"], "huggies": ["Huggies"]}).alternative_of(" Hug") is None
    )


def test_prefix_match_rejects_a_variant_that_is_a_prefix_of_another_alternative():
    with pytest.raises(ChoiceSetError, match="'no'.*prefix of alternative 'none'"):
        ChoiceSet({"no": ["no"], "none": ["none"]}, prefix_match=True)
    # exact matching is fine: "no" and "none" are different tokens
    ChoiceSet({"no": ["no"], "none": ["none"]})


def test_shared_prefix_is_not_attributed():
    cs = ChoiceSet({"a": ["Hugo"], "b": ["Huggies"]}, prefix_match=True)
    assert cs.alternative_of("Hug") is None
    assert cs.alternative_of("Hugg") == "b"


def test_canonical_token():
    assert canonical_token("▁Yes") == " Yes"
    assert canonical_token("ĠYes") == " Yes"
    assert canonical_token("Yes") == "Yes"
    assert canonical_token("▁▁x") == "  x"


def test_coerce_equality_and_hash():
    a = ChoiceSet({"yes": ["Yes"], "no": ["No"]})
    assert ChoiceSet.coerce(a) is a
    b = ChoiceSet.coerce({"yes": ["Yes"], "no": ["No"]})
    assert a == b and hash(a) == hash(b)
    assert a != ChoiceSet({"yes": ["Yes"], "no": ["No"]}, casefold=False)
    assert list(a) == ["yes", "no"] and "yes" in a and len(a) == 2
    with pytest.raises(KeyError, match="maybe"):
        a.variants("maybe")
