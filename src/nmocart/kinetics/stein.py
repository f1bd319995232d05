"""Synthetic CAR-T profiles from the Stein et al. 2019 multiphasic cellular-kinetic model.

Expansion (exponential up to Tmax), then contraction and persistence (bi-exponential), with
the published typical values, log-normal between-subject variability, proportional residual
error on the log scale, an LLOQ below which samples are BLQ, and a visit schedule. Seeded
with ``numpy.random.default_rng(seed)``: the same arguments give the same study.
For tests, demos and benchmarks only; these are paediatric B-ALL (oncology) values.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nmocart.kernel.csv_cells import csv_row

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SteinParameters:
    """Model parameters (arrays of one value per subject, or scalars for the typical profile).

    foldx: fold expansion; tmax: time of the peak (day); cmax: peak (copies/ug);
    alpha: contraction rate (1/day); fb: fraction into the persistent phase;
    beta: persistence rate (1/day).
    """

    foldx: FloatArray
    tmax: FloatArray
    cmax: FloatArray
    alpha: FloatArray
    fb: FloatArray
    beta: FloatArray


NAMES = ("foldx", "tmax", "cmax", "alpha", "fb", "beta")
TYPICAL = {"foldx": 3900.0, "tmax": 9.3, "cmax": 24000.0, "alpha": 0.16, "fb": 0.0079, "beta": 0.0032}
"""Typical values (reference README, Stein et al. 2019, tisagenlecleucel)."""
OMEGA2 = {"foldx": 2.4, "tmax": 0.38, "cmax": 0.65, "alpha": 0.91, "fb": 0.8, "beta": 0.86}
"""Between-subject variances of the log-normal random effects."""
RESIDUAL_SD = 0.56
"""Proportional residual error: SD on the log scale."""
SCHEDULE: tuple[float, ...] = (0, 1, 4, 7, 10, 14, 21, 28, 90, 180, 270, 365)
"""Nominal sampling days; day 0 is the pre-infusion sample."""
LLOQ = 20.0
"""Lower limit of quantification (copies/ug)."""
UNIT = "copies/ug"


def typical() -> SteinParameters:
    """The typical subject as one-element arrays."""
    return SteinParameters(*(np.array([TYPICAL[n]]) for n in NAMES))


def concentration(time: FloatArray, p: SteinParameters) -> FloatArray:
    """Model concentration at ``time`` (n_subjects x n_times, or broadcastable), no error."""
    t = np.asarray(time, dtype=np.float64)
    col = {n: np.asarray(getattr(p, n), dtype=np.float64)[:, None] for n in NAMES}
    rho = np.log(col["foldx"]) / col["tmax"]
    r0 = col["cmax"] / col["foldx"]
    dt = t - col["tmax"]
    up = r0 * np.exp(rho * np.minimum(t, col["tmax"]))
    down = col["cmax"] * (
        (1 - col["fb"]) * np.exp(-col["alpha"] * np.maximum(dt, 0.0))
        + col["fb"] * np.exp(-col["beta"] * np.maximum(dt, 0.0))
    )
    return np.asarray(np.where(t < col["tmax"], up, down), dtype=np.float64)


def integral(start: float, end: float, p: SteinParameters) -> FloatArray:
    """Exact area under the model curve over [start, end] for each subject (closed form)."""
    out = []
    for i in range(np.asarray(p.cmax).shape[0]):
        fx, tm, cm = float(p.foldx[i]), float(p.tmax[i]), float(p.cmax[i])
        al, fb, be = float(p.alpha[i]), float(p.fb[i]), float(p.beta[i])
        rho, r0 = np.log(fx) / tm, cm / fx
        a = 0.0
        lo, hi = start, min(end, tm)
        if hi > lo:
            a += r0 / rho * (np.exp(rho * hi) - np.exp(rho * lo))
        lo, hi = max(start, tm), end
        if hi > lo:
            for rate, frac in ((al, 1 - fb), (be, fb)):
                a += cm * frac / rate * (np.exp(-rate * (lo - tm)) - np.exp(-rate * (hi - tm)))
        out.append(a)
    return np.array(out, dtype=np.float64)


@dataclass(frozen=True)
class SyntheticStudy:
    """A simulated study in long form (one entry per sample) with its true parameters."""

    subject: tuple[str, ...]
    time: FloatArray
    conc: FloatArray
    blq: NDArray[np.bool_]
    lloq: float
    unit: str
    parameters: SteinParameters
    n_subjects: int


def simulate(
    n_subjects: int,
    seed: int,
    schedule: tuple[float, ...] = SCHEDULE,
    lloq: float = LLOQ,
    time_jitter: float = 0.2,
    residual_sd: float = RESIDUAL_SD,
) -> SyntheticStudy:
    """Simulate ``n_subjects`` with log-normal variability, residual error and BLQ.

    Visits after day 0 are shifted by a uniform jitter of +-``time_jitter`` days (actual
    times); the day-0 sample is pre-infusion and always BLQ (no CAR transgene yet).
    """
    if n_subjects < 1:
        raise ValueError("n_subjects must be at least 1")
    rng = np.random.default_rng(seed)
    eta = {n: rng.normal(0.0, np.sqrt(OMEGA2[n]), n_subjects) for n in NAMES}
    vals = {n: TYPICAL[n] * np.exp(eta[n]) for n in NAMES}
    vals["fb"] = np.minimum(vals["fb"], 1.0)
    vals["foldx"] = np.maximum(vals["foldx"], 1.0 + 1e-9)
    params = SteinParameters(*(vals[n] for n in NAMES))
    nominal = np.asarray(schedule, dtype=np.float64)
    jitter = rng.uniform(-time_jitter, time_jitter, (n_subjects, nominal.size))
    times = nominal[None, :] + np.where(nominal[None, :] > 0, jitter, 0.0)
    true = concentration(times, params)
    observed = true * np.exp(rng.normal(0.0, residual_sd, true.shape))
    blq = (observed < lloq) | (times <= 0)
    conc = np.where(blq, 0.0, observed)
    width = len(str(n_subjects))
    subjects = tuple(f"S{i + 1:0{width}d}" for i in range(n_subjects))
    return SyntheticStudy(
        subject=tuple(s for s in subjects for _ in range(nominal.size)),
        time=times.reshape(-1),
        conc=conc.reshape(-1),
        blq=blq.reshape(-1),
        lloq=lloq,
        unit=UNIT,
        parameters=params,
        n_subjects=n_subjects,
    )


def to_csv(study: SyntheticStudy) -> str:
    """The study as the spec's long CSV (subject,time,conc,blq,unit,lloq); 6-digit times."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(csv_row(["subject", "time", "conc", "blq", "unit", "lloq"]))
    lloq = format(study.lloq, ".12g")
    for s, t, c, b in zip(
        study.subject, study.time.tolist(), study.conc.tolist(), study.blq.tolist(), strict=True
    ):
        conc = "" if b else format(c, ".6g")
        writer.writerow(csv_row([s, format(t, ".6f"), conc, int(b), study.unit, lloq]))
    return buf.getvalue()
