from __future__ import annotations

import copy
import hashlib
from importlib import resources
from typing import Any

import orjson

from nmocart.safety.parameters import canonical_json, load_parameters, parse_parameters


def raw() -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(
        resources.files("nmocart").joinpath("data/safety_v2.json").read_bytes()
    )
    return data


def test_identity_is_id_version_and_checksum_of_canonical_json() -> None:
    params = load_parameters()
    data = raw()
    assert params.id == data["id"]
    assert params.version == "2"
    assert params.sha256 == hashlib.sha256(canonical_json(data)).hexdigest()
    # key order does not change the checksum; a threshold does
    reordered = dict(reversed(list(data.items())))
    assert parse_parameters(reordered).sha256 == params.sha256
    changed = copy.deepcopy(data)
    changed["crs"]["fever_min_c"] = "38.3"
    assert parse_parameters(changed).sha256 != params.sha256


def test_thresholds_follow_the_parameter_file() -> None:
    data = raw()
    data["crs"]["fever_min_c"] = "38.3"
    data["icaht"]["neutropenic_max"] = "1.0"
    params = parse_parameters(data)
    assert params.crs.fever_min_c == 38.3
    assert str(params.icaht.neutropenic_max) == "1"


def test_every_spec_cut_is_a_named_parameter() -> None:
    params = load_parameters()
    assert params.crs.nasal_cannula_low_flow_max_l_min == 6
    assert params.crs.hypotension_grade_by_vasopressors == (2, 3, 4)
    assert [c.text for c in params.ctcae.decreased["anc"].below] == ["1.5", "1.0", "0.5"]
    alt = params.ctcae.increased["alt"]
    first = alt.abnormal_baseline_x_baseline[0]
    assert (first.op, first.text) == (">=", "1.5")
    assert str(params.ctcae.igg_below_mg_dl) == "400"
    assert params.icaht.stable_recovery_dates == 3
