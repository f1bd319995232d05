"""Population pre-screening: FHIR in, the protocol's 19 criteria for every patient out.

The engines (DuckDB embedded, Apache Spark distributed) read and flatten the FHIR input and
group it by patient in SQL / the DataFrame API; each patient is then built by the FHIR intake
(:func:`nmocart.fhir.intake.build_patient`) and screened by the one screening engine
(:func:`nmocart.screening.eligibility.screen`) in the engine's workers. Both engines hand the
same per-patient assessments, in candidate order, to the same writers, so their outputs are
byte-identical.
"""
