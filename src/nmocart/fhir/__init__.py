"""FHIR R4 intake: screening records from hospital EHR exports (spec fhir.md)."""
