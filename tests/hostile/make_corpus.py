"""Regenerate the hostile input files of ``files/`` (kept in the repository; run by hand).

Each file is a small variation of a valid record or CSV that once crashed or misled a
batch; ``cases.toml`` says for each how nmocart must answer (exit status, message).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import orjson

from nmocart.safety.synthetic import synthetic_study
from nmocart.screening.protocol import default_protocol_bytes

HERE = Path(__file__).parent / "files"
EXAMPLE = Path(__file__).parents[2] / "src" / "nmocart" / "data" / "examples" / "eligible.json"


def _screening(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    record.update(changes)
    return record


def _safety() -> dict[str, Any]:
    record: dict[str, Any] = next(iter(synthetic_study(1, follow_up_days=30, assessment_days=5)))
    return record


def _changed(record: dict[str, Any], section: str, key: str, value: object) -> dict[str, Any]:
    """``record`` with ``key`` of the first item of ``section`` set to ``value``."""
    out = copy.deepcopy(record)
    out[section][0][key] = value
    return out


def _write(name: str, data: bytes | str) -> None:
    (HERE / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def main() -> None:
    HERE.mkdir(exist_ok=True)
    screening = _screening()
    text = _json(screening)
    _write("screen_birth_0001.json", _json(_screening(birth_date="0001-01-15")))
    _write("screen_screening_9999.json", _json(_screening(screening_date="9999-12-30")))
    _write(
        "screen_all_9999.json",
        _json(_screening(screening_date="9999-12-31", planned_treatment_date="9999-12-31")),
    )
    late_rituximab = copy.deepcopy(screening)
    late_rituximab["medications"].append(
        {"name": "rituximab", "drug_class": "rituximab", "route": "intravenous", "start_date": "9999-12-30"}
    )
    _write("screen_rituximab_9999.json", _json(late_rituximab))
    _write("screen_qtc_nan.json", _json(_changed(screening, "ecgs", "qtc_ms", math.nan)))
    _write("screen_lab_infinity.json", _json(_changed(screening, "labs", "value", math.inf)))
    huge = _json(_changed(screening, "labs", "value", 1e300))
    _write("screen_lab_1e400.json", huge.replace("1e+300", "1e400"))
    _write("screen_duplicate_key.json", text.replace('"sex": "male"', '"sex": "male", "sex": "female"'))
    _write("screen_bom.json", b"\xef\xbb\xbf" + text.encode())
    _write("screen_utf16.json", text.encode("utf-16"))
    _write("screen_utf16.ndjson", (text + "\n").encode("utf-16"))
    _write("screen_upper_limit_0.json", _json(_changed(screening, "labs", "upper_limit", 0)))
    _write("screen_id_control.json", _json(_screening(candidate_id="SCR\u00070001")))
    _write("screen_nested.json", "[" * 100_000 + "]" * 100_000)
    _write("screen_not_json.json", "candidate_id: SCR-0001\n")
    _write("screen_empty.json", "")
    _write("screen_binary.json", bytes(range(256)))
    other = _json(_screening(candidate_id="SCR-0002"))
    _write("screen_bad_middle.ndjson", "\n".join([text, text.replace("2026", "20x6", 1), other]) + "\n")
    _write("screen_duplicate_ids.ndjson", "\n".join([text, other, text]) + "\n")
    _write("screen_date_not_calendar.json", text.replace('"1981-11-20"', '"1981-02-30"'))
    protocol = json.loads(default_protocol_bytes())
    absurd = copy.deepcopy(protocol)
    absurd["parameters"]["rituximab_coverage_days"] = 10**9
    _write("protocol_absurd_window.json", _json(absurd))
    huge_months = copy.deepcopy(protocol)
    huge_months["parameters"]["relapse_long_window_months"] = 10**7
    _write("protocol_absurd_months.json", _json(huge_months))
    _write(
        "protocol_nan.json",
        _json(protocol).replace('"tcell_min_fold": 5', '"tcell_min_fold": NaN'),
    )
    hashed = copy.deepcopy(protocol)
    hashed["parameters_sha256"] = "0" * 64
    _write("protocol_wrong_hash.json", _json(hashed))
    repeated = _json(protocol).replace('"age_max": 60', '"age_max": 60, "age_max": 99')
    _write("protocol_duplicate_key.json", repeated)
    _write("protocol_age_order.json", _json(protocol).replace('"age_min": 18', '"age_min": 70'))

    safety = _safety()
    stext = orjson.dumps(safety).decode()
    first_value = f'"value":{orjson.dumps(safety["labs"][0]["value"]).decode()}'
    _write("safety_infinity.json", stext.replace(first_value, '"value":Infinity', 1))
    _write("safety_nan_temperature.json", stext.replace('"temperature_c":37.5', '"temperature_c":NaN', 1))
    _write("safety_1e400.json", stext.replace(first_value, '"value":1e400', 1))
    zero_uln = copy.deepcopy(safety)
    zero_uln["labs"][0]["upper_limit"] = 0
    _write("safety_upper_limit_0.json", _json(zero_uln))
    swapped = copy.deepcopy(safety)
    swapped["labs"][0]["lower_limit"], swapped["labs"][0]["upper_limit"] = 9000.0, 1000.0
    _write("safety_limits_swapped.json", _json(swapped))
    last_day = copy.deepcopy(safety)
    last_day.update(infusion_date="9999-12-31", lymphodepletion_start_date=None)
    for section in ("crs_assessments", "icans_assessments"):
        last_day[section] = [dict(item, date="9999-12-31") for item in last_day[section][:1]]
    last_day["labs"] = [dict(lab, date="9999-12-30") for lab in last_day["labs"][:3]]
    last_day["adverse_events"] = []
    _write("safety_infusion_9999.json", _json(last_day))
    first_day = copy.deepcopy(safety)
    first_day.update(infusion_date="0001-01-01", lymphodepletion_start_date=None, crs_assessments=None)
    first_day.update(icans_assessments=None, adverse_events=None)
    first_day["labs"] = [dict(lab, date="0001-01-01") for lab in first_day["labs"][:5]]
    _write("safety_infusion_0001.json", _json(first_day))
    _write("safety_duplicate_key.json", stext.replace('"sex":"female"', '"sex":"female","sex":"male"', 1))
    _write("safety_bom.json", b"\xef\xbb\xbf" + stext.encode())
    _write("safety_utf16.json", stext.encode("utf-16"))
    _write("safety_id_control.json", _json(dict(safety, subject_id="SYN\n001")))
    other_subject = orjson.dumps(dict(safety, subject_id="SYN-002")).decode()
    _write("safety_duplicate_ids.ndjson", "\n".join([stext, other_subject, stext]) + "\n")
    _write("safety_bad_middle.ndjson", "\n".join([stext, "{]", other_subject]) + "\n")

    header = "subject,time,conc,blq\n"
    good = "".join(f"K1,{t},{c},0\n" for t, c in [(0, 1), (1, 50), (4, 20), (7, 9), (14, 3)])
    _write("nca_conc_nan.csv", header + good + "K2,0,1,0\nK2,1,NaN,0\nK2,2,5,0\n")
    _write("nca_time_inf.csv", header + good + "K2,0,1,0\nK2,inf,4,0\n")
    _write("nca_conc_1e400.csv", header + good + "K2,0,1,0\nK2,1,1e400,0\n")
    _write(
        "nca_overflow.csv",
        header + good + "K2,0,1e308,0\nK2,1,1.7e308,0\nK2,2,1e308,0\nK2,3,1e307,0\nK2,4,1e306,0\n",
    )
    _write("nca_subject_control.csv", header + good + "K\x1b[31m2,0,1,0\n")
    _write("nca_stray_quote.csv", header + good + 'K2,0,"1,0\nK3,0,1,0\nK3,1,4,0\n')
    _write("nca_utf16.csv", (header + good).encode("utf-16"))
    _write("nca_bom.csv", b"\xef\xbb\xbf" + (header + good).encode())
    _write("nca_empty.csv", "")
    _write("nca_header_only.csv", header)
    _write("nca_binary.csv", bytes(range(256)))
    _write("nca_duplicate_sample.csv", header + good + "K2,0,1,0\nK2,1,4,0\nK2,1,5,0\n")
    _write("nca_missing_columns.csv", "subject,time,value\nK1,0,1\n")
    _write("nca_short_row.csv", header + good + "K2,0\n")


if __name__ == "__main__":
    main()
