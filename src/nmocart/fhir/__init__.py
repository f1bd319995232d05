"""FHIR R4 intake (spec fhir.md): read resources, build one screening record per patient, report."""
