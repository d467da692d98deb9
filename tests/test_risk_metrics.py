"""Risk metrics on synthetic populations whose answers are known in closed form.

Every expected figure is worked out here from the class sizes the test plants, from the
definitions (k: smallest class; l: fewest distinct sensitive values in a class; t: largest
equal-distance EMD = half the L1 distance between a class's and the release's distribution;
ARX's prosecutor / journalist / marketer figures as El Emam defines them), not from the code.
"""

from __future__ import annotations

import pytest

from dicom_deid.risk.metrics import assess, records_frame

# (PatientSex, PatientAge) classes of sizes 1, 2, 3, 4 with a sensitive diagnosis per patient
PLANTED = [
    ("M", "90", ["a"]),
    ("F", "40", ["a", "b"]),
    ("F", "50", ["a", "a", "b"]),
    ("M", "40", ["a", "b", "c", "c"]),
]
N = 10


def _frame(population=PLANTED):
    records = []
    for sex, age, diagnoses in population:
        for d in diagnoses:
            records.append({"patient": f"DD{len(records):03d}", "PatientSex": sex, "PatientAge": age, "Dx": d})
    return records_frame(records, ["PatientSex", "PatientAge", "Dx"])


def test_k_histogram_and_patients_below_k():
    result = assess(_frame(), ["PatientSex", "PatientAge"], k_target=3, sensitive=["Dx"])
    assert result.patients == N
    assert result.k == 1  # the lone 90-year-old man
    assert result.classes == 4
    assert dict(result.histogram) == {1: 1, 2: 1, 3: 1, 4: 1}
    # classes below K=3: sizes 1 and 2 -> 3 patients, listed by pseudonym
    assert [c.size for c in result.small_classes] == [1, 2]
    assert result.patients_below_k == 3
    assert result.small_classes[0].patients == ("DD000",)
    assert result.small_classes[1].patients == ("DD001", "DD002")
    assert not result.ok


def test_rarest_value_names_the_attribute_that_makes_a_class_small():
    result = assess(_frame(), ["PatientSex", "PatientAge"], k_target=3)
    lone, pair = result.small_classes
    # age 90: 1 patient (sex M: 1 + 4 = 5) -> age; (F, 40): F 2 + 3 = 5, age 40: 2 + 4 = 6 -> sex
    assert (lone.rarest, lone.rarest_count) == ("PatientAge", 1)
    assert (pair.rarest, pair.rarest_count) == ("PatientSex", 5)
    assert dict(result.rarest_attributes) == {"PatientAge": 1, "PatientSex": 1}


def test_prosecutor_journalist_marketer_without_population():
    result = assess(_frame(), ["PatientSex", "PatientAge"], k_target=3)
    # prosecutor: highest 1/min f = 1; at risk: f < 3 -> (1 + 2) / 10; success: J / n = 4 / 10
    assert result.prosecutor.highest_risk == pytest.approx(1.0)
    assert result.prosecutor.records_at_risk == pytest.approx(3 / 10)
    assert result.prosecutor.success_rate == pytest.approx(4 / 10)
    # the release is its own population: journalist = prosecutor, marketer = sum(f/f)/n = J/n
    assert result.journalist == result.prosecutor
    assert result.marketer == pytest.approx(4 / 10)


def test_journalist_and_marketer_with_a_population_twice_the_release():
    population = {("M", "90"): 2, ("F", "40"): 4, ("F", "50"): 6, ("M", "40"): 8}
    result = assess(_frame(), ["PatientSex", "PatientAge"], k_target=3, population=population)
    # journalist: highest 1/min F = 1/2; at risk: 1/F > 1/3 only for F = 2 (f = 1) -> 1/10;
    # success max(J / sum F, sum(f/F) / n) = max(4/20, (4 x 1/2) / 10) = 0.2
    assert result.journalist.highest_risk == pytest.approx(1 / 2)
    assert result.journalist.records_at_risk == pytest.approx(1 / 10)
    assert result.journalist.success_rate == pytest.approx(0.2)
    assert result.marketer == pytest.approx(0.2)
    assert result.prosecutor.highest_risk == pytest.approx(1.0)  # unchanged by the population


def test_l_diversity_and_t_closeness():
    result = assess(_frame(), ["PatientSex", "PatientAge"], k_target=3, sensitive=["Dx"])
    assert result.l_diversity == 1  # the lone patient's class has one diagnosis
    # release: a 5/10, b 3/10, c 2/10.  Half the L1 distance per class:
    # {a}: (.5+.3+.2)/2 = .5; {a,b}: (0+.2+.2)/2 = .2; {a,a,b}: (1/6+1/30+.2)/2 = .2; {a,b,c,c}: (.25+.05+.3)/2 = .3
    assert result.t_closeness == pytest.approx(0.5)


def test_l_diversity_of_a_diverse_release():
    diverse = [("F", "40", ["a", "b", "c"]), ("M", "40", ["a", "b", "c", "d"])]
    result = assess(_frame(diverse), ["PatientSex", "PatientAge"], k_target=3, sensitive=["Dx"])
    assert result.k == 3 and result.ok and result.small_classes == ()
    assert result.l_diversity == 3
    # release a,b,c 2/7 each, d 1/7; class 1 (1/3,1/3,1/3,0): (3 x |1/3-2/7| + 1/7)/2 = (1/7 + 1/7)/2 = 1/7
    assert result.t_closeness == pytest.approx(1 / 7)
    assert result.prosecutor.highest_risk == pytest.approx(1 / 3)
    assert result.prosecutor.records_at_risk == 0.0
    assert result.prosecutor.success_rate == pytest.approx(2 / 7)


@pytest.mark.parametrize("n", [1, 7, 25])
def test_uniform_populations(n):
    unique = records_frame([{"patient": f"P{i}", "A": str(i)} for i in range(n)], ["A"])
    same = records_frame([{"patient": f"P{i}", "A": "x"} for i in range(n)], ["A"])
    u, s = assess(unique, ["A"], k_target=2), assess(same, ["A"], k_target=2)
    assert (u.k, u.classes, u.prosecutor.success_rate, u.marketer) == (1, n, 1.0, 1.0)
    assert (s.k, s.classes) == (n, 1)
    assert s.prosecutor.highest_risk == pytest.approx(1 / n)
    assert s.prosecutor.success_rate == pytest.approx(1 / n)
    assert s.prosecutor.records_at_risk == (1.0 if n < 2 else 0.0)


def test_empty_release():
    result = assess(records_frame([], ["A"]), ["A"], k_target=5)
    assert result.patients == 0 and result.k == 0
    assert any("no patient" in n for n in result.notes)


def test_grouped_l_and_t_agree_with_pycanon_on_a_random_population():
    import random

    from pycanon import anonymity

    from dicom_deid.risk.metrics import l_t_grouped

    rng = random.Random(7)
    records = [{"patient": f"P{i}", "A": rng.choice("abcdef"), "B": rng.choice("xyz"), "S": rng.choice("pqrstu")}
               for i in range(400)]
    data = records_frame(records, ["A", "B", "S"]).reset_index()
    assert data.groupby(["A", "B"]).ngroups == 18  # every class planted
    l_div, t_close = l_t_grouped(data, ["A", "B"], "S")
    assert l_div == anonymity.l_diversity(data, ["A", "B"], ["S"])
    assert t_close == pytest.approx(anonymity.t_closeness(data, ["A", "B"], ["S"]))
