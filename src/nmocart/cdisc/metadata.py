"""The SDTM metadata of the export (CDISC spec sections 4 and 7): datasets, variables, codelists.

One table per dataset, in the spec's column order, and the controlled terminology with its NCI
codes. Everything else (rows, Dataset-JSON, XPT, define.xml, the checks) reads these tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DataType = Literal["string", "integer", "float", "date"]
"""Dataset-JSON ``dataType`` of a column (spec section 3); Define-XML maps ``string`` to ``text``."""

Value = str | int | float | None
"""One cell: text, an integer, a binary double, or missing (None)."""


@dataclass(frozen=True)
class Variable:
    """One SDTM variable: name, SDTMIG label, type and the codelist that constrains it."""

    name: str
    label: str
    data_type: DataType = "string"
    codelist: str | None = None

    @property
    def numeric(self) -> bool:
        """Whether XPT stores it as an 8-byte number (Num) rather than text (Char)."""
        return self.data_type in ("integer", "float")


@dataclass(frozen=True)
class DatasetMeta:
    """A dataset of spec section 4: name, label, class, structure, keys and variables."""

    name: str
    label: str
    sdtm_class: str
    structure: str
    keys: tuple[str, ...]
    variables: tuple[Variable, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The variable names in column order."""
        return tuple(v.name for v in self.variables)

    def key_sequence(self, name: str) -> int | None:
        """The 1-based position of ``name`` among the keys, or None."""
        return self.keys.index(name) + 1 if name in self.keys else None


def _v(name: str, label: str, data_type: DataType = "string", codelist: str | None = None) -> Variable:
    return Variable(name, label, data_type, codelist)


STUDYID = _v("STUDYID", "Study Identifier")
USUBJID = _v("USUBJID", "Unique Subject Identifier")


def _domain(name: str) -> Variable:
    return _v("DOMAIN", "Domain Abbreviation")


def _dataset(
    name: str, label: str, sdtm_class: str, structure: str, keys: str, rest: tuple[Variable, ...]
) -> DatasetMeta:
    head = (STUDYID, _domain(name)) if name == "TI" else (STUDYID, _domain(name), USUBJID)
    return DatasetMeta(name, label, sdtm_class, structure, tuple(keys.split(", ")), head + rest)


TI = _dataset(
    "TI",
    "Trial Inclusion/Exclusion Criteria",
    "TRIAL DESIGN",
    "One record per I/E criterion",
    "STUDYID, IETESTCD, TIVERS",
    (
        _v("IETESTCD", "Incl/Excl Criterion Short Name"),
        _v("IETEST", "Inclusion/Exclusion Criterion"),
        _v("IECAT", "Inclusion/Exclusion Category", codelist="IECAT"),
        _v("TIVERS", "Protocol Criteria Versions"),
    ),
)

IE = _dataset(
    "IE",
    "Inclusion/Exclusion Criteria Not Met",
    "FINDINGS",
    "One record per inclusion/exclusion criterion not met per subject",
    "STUDYID, USUBJID, IETESTCD",
    (
        _v("IESEQ", "Sequence Number", "integer"),
        _v("IESPID", "Sponsor-Defined Identifier"),
        _v("IETESTCD", "Inclusion/Exclusion Criterion Short Name"),
        _v("IETEST", "Inclusion/Exclusion Criterion"),
        _v("IECAT", "Inclusion/Exclusion Category", codelist="IECAT"),
        _v("IEORRES", "I/E Criterion Original Result", codelist="NY"),
        _v("IESTRESC", "I/E Criterion Result in Std Format", codelist="NY"),
        _v("IEDTC", "Date/Time of Collection", "date"),
        _v("IEDY", "Study Day of Collection", "integer"),
    ),
)

DM = _dataset(
    "DM",
    "Demographics",
    "SPECIAL PURPOSE",
    "One record per subject",
    "STUDYID, USUBJID",
    (
        _v("SUBJID", "Subject Identifier for the Study"),
        _v("RFSTDTC", "Subject Reference Start Date/Time", "date"),
        _v("RFENDTC", "Subject Reference End Date/Time", "date"),
        _v("RFXSTDTC", "Date/Time of First Study Treatment", "date"),
        _v("RFXENDTC", "Date/Time of Last Study Treatment", "date"),
        _v("RFICDTC", "Date/Time of Informed Consent", "date"),
        _v("RFPENDTC", "Date/Time of End of Participation", "date"),
        _v("DTHDTC", "Date/Time of Death", "date"),
        _v("DTHFL", "Subject Death Flag", codelist="NY"),
        _v("SITEID", "Study Site Identifier"),
        _v("BRTHDTC", "Date/Time of Birth", "date"),
        _v("AGE", "Age", "integer"),
        _v("AGEU", "Age Units", codelist="AGEU"),
        _v("SEX", "Sex", codelist="SEX"),
        _v("RACE", "Race"),
        _v("ARMCD", "Planned Arm Code"),
        _v("ARM", "Description of Planned Arm"),
        _v("ACTARMCD", "Actual Arm Code"),
        _v("ACTARM", "Description of Actual Arm"),
        _v("ARMNRS", "Reason Arm and/or Actual Arm is Null", codelist="ARMNRS"),
        _v("ACTARMUD", "Description of Unplanned Actual Arm"),
        _v("COUNTRY", "Country"),
    ),
)

AE = _dataset(
    "AE",
    "Adverse Events",
    "EVENTS",
    "One record per adverse event per subject",
    "STUDYID, USUBJID, AESEQ",
    (
        _v("AESEQ", "Sequence Number", "integer"),
        _v("AESPID", "Sponsor-Defined Identifier"),
        _v("AETERM", "Reported Term for the Adverse Event"),
        _v("AEDECOD", "Dictionary-Derived Term"),
        _v("AEBODSYS", "Body System or Organ Class"),
        _v("AESER", "Serious Event", codelist="NY"),
        _v("AEACN", "Action Taken with Study Treatment"),
        _v("AEREL", "Causality", codelist="AEREL"),
        _v("AEOUT", "Outcome of Adverse Event", codelist="OUT"),
        _v("AETOXGR", "Standard Toxicity Grade"),
        _v("AESTDTC", "Start Date/Time of Adverse Event", "date"),
        _v("AEENDTC", "End Date/Time of Adverse Event", "date"),
        _v("AESTDY", "Study Day of Start of Adverse Event", "integer"),
        _v("AEENDY", "Study Day of End of Adverse Event", "integer"),
    ),
)

LB = _dataset(
    "LB",
    "Laboratory Test Results",
    "FINDINGS",
    "One record per lab result per subject",
    "STUDYID, USUBJID, LBTESTCD, LBSEQ",
    (
        _v("LBSEQ", "Sequence Number", "integer"),
        _v("LBSPID", "Sponsor-Defined Identifier"),
        _v("LBTESTCD", "Lab Test or Examination Short Name", codelist="LBTESTCD"),
        _v("LBTEST", "Lab Test or Examination Name", codelist="LBTEST"),
        _v("LBCAT", "Category for Lab Test"),
        _v("LBORRES", "Result or Finding in Original Units"),
        _v("LBORRESU", "Original Units", codelist="UNIT"),
        _v("LBORNRLO", "Reference Range Lower Limit in Orig Unit"),
        _v("LBORNRHI", "Reference Range Upper Limit in Orig Unit"),
        _v("LBSTRESC", "Character Result/Finding in Std Format"),
        _v("LBSTRESN", "Numeric Result/Finding in Standard Units", "float"),
        _v("LBSTRESU", "Standard Units", codelist="UNIT"),
        _v("LBSTNRLO", "Reference Range Lower Limit-Std Units", "float"),
        _v("LBSTNRHI", "Reference Range Upper Limit-Std Units", "float"),
        _v("LBNRIND", "Reference Range Indicator", codelist="NRIND"),
        _v("LBLOBXFL", "Last Observation Before Exposure Flag", codelist="NY"),
        _v("LBBLFL", "Baseline Flag", codelist="NY"),
        _v("LBTOX", "Toxicity"),
        _v("LBTOXGR", "Standard Toxicity Grade", codelist="CTCAE"),
        _v("VISITNUM", "Visit Number", "float"),
        _v("LBDTC", "Date/Time of Specimen Collection", "date"),
        _v("LBDY", "Study Day of Specimen Collection", "integer"),
    ),
)

PC = _dataset(
    "PC",
    "Pharmacokinetics Concentrations",
    "FINDINGS",
    "One record per sample per analyte per subject",
    "STUDYID, USUBJID, PCTESTCD, PCSEQ",
    (
        _v("PCSEQ", "Sequence Number", "integer"),
        _v("PCGRPID", "Group ID"),
        _v("PCSPID", "Sponsor-Defined Identifier"),
        _v("PCTESTCD", "Pharmacokinetic Test Short Name"),
        _v("PCTEST", "Pharmacokinetic Test Name"),
        _v("PCORRES", "Result or Finding in Original Units"),
        _v("PCORRESU", "Original Units", codelist="PKUNIT"),
        _v("PCSTRESC", "Character Result/Finding in Std Format"),
        _v("PCSTRESN", "Numeric Result/Finding in Standard Units", "float"),
        _v("PCSTRESU", "Standard Units", codelist="PKUNIT"),
        _v("PCNAM", "Vendor Name"),
        _v("PCSPEC", "Specimen Material Type", codelist="SPECTYPE"),
        _v("PCLLOQ", "Lower Limit of Quantitation", "float"),
        _v("VISITNUM", "Visit Number", "float"),
        _v("PCDTC", "Date/Time of Specimen Collection", "date"),
        _v("PCDY", "Actual Study Day of Specimen Collection", "integer"),
        _v("PCTPTREF", "Time Point Reference"),
        _v("PCRFTDTC", "Date/Time of Reference Point", "date"),
    ),
)

PP = _dataset(
    "PP",
    "Pharmacokinetics Parameters",
    "FINDINGS",
    "One record per PK parameter per time-concentration profile per subject",
    "STUDYID, USUBJID, PPCAT, PPTESTCD",
    (
        _v("PPSEQ", "Sequence Number", "integer"),
        _v("PPGRPID", "Group ID"),
        _v("PPTESTCD", "Parameter Short Name", codelist="PKPARMCD"),
        _v("PPTEST", "Parameter Name", codelist="PKPARM"),
        _v("PPCAT", "Parameter Category"),
        _v("PPSCAT", "Parameter Subcategory"),
        _v("PPORRES", "Result or Finding in Original Units"),
        _v("PPORRESU", "Original Units", codelist="PKUNIT"),
        _v("PPSTRESC", "Character Result/Finding in Std Format"),
        _v("PPSTRESN", "Numeric Result/Finding in Standard Units", "float"),
        _v("PPSTRESU", "Standard Units", codelist="PKUNIT"),
        _v("PPSTAT", "Completion Status", codelist="ND"),
        _v("PPREASND", "Reason Parameter Not Calculated"),
        _v("PPSPEC", "Specimen Material Type", codelist="SPECTYPE"),
        _v("PPTPTREF", "Time Point Reference"),
        _v("PPRFTDTC", "Date/Time of Reference Point", "date"),
        _v("PPSTINT", "Planned Start of Assessment Interval"),
        _v("PPENINT", "Planned End of Assessment Interval"),
    ),
)

DATASETS: tuple[DatasetMeta, ...] = (TI, IE, DM, AE, LB, PC, PP)
"""Every dataset, in the order the spec lists them (``ti ie dm ae lb pc pp``)."""


@dataclass(frozen=True)
class Term:
    """One codelist value and its NCI code (None for sponsor values without a CDISC code)."""

    value: str
    code: str | None = None


@dataclass(frozen=True)
class Codelist:
    """A codelist of spec section 7.

    ``code`` is the NCI code of a CDISC codelist (None for sponsor lists); ``external`` names
    an external dictionary (name, version) instead of enumerated terms; ``extensible`` lists
    are the ones whose sponsor extensions are flagged ``def:ExtendedValue="Yes"``.
    """

    key: str
    name: str
    code: str | None
    terms: tuple[Term, ...] = ()
    external: tuple[str, str] | None = None
    extensible: bool = False

    @property
    def oid(self) -> str:
        """The Define-XML OID of the codelist."""
        return f"CL.{self.key}"

    def term(self, value: str) -> Term | None:
        """The term with this submission value, or None (an extension or an error)."""
        for term in self.terms:
            if term.value == value:
                return term
        return None


def _terms(pairs: str) -> tuple[Term, ...]:
    """``"F C16576, M C20197"`` as terms (value, then its code after the last space)."""
    out = []
    for pair in pairs.split(", "):
        value, code = pair.rsplit(" ", 1)
        out.append(Term(value, code))
    return tuple(out)


ASTCT = "ASTCT"
CTCAE = "CTCAE"

CODELISTS: dict[str, Codelist] = {
    c.key: c
    for c in (
        Codelist("SEX", "Sex", "C66731", _terms("F C16576, M C20197")),
        Codelist("NY", "No Yes Response", "C66742", _terms("N C49487, Y C49488")),
        Codelist(
            "IECAT",
            "Category for Inclusion/Exclusion",
            "C66797",
            _terms("EXCLUSION C25370, INCLUSION C25532"),
        ),
        Codelist("AGEU", "Age Unit", "C66781", _terms("YEARS C29848")),
        Codelist(
            "ARMNRS",
            "Reason Arm and/or Actual Arm is Null",
            "C142179",
            (Term("SCREEN FAILURE", "C49628"), Term("NOT ASSIGNED"), Term("ASSIGNED, NOT TREATED")),
        ),
        Codelist(
            "OUT",
            "Outcome of Event",
            "C66768",
            _terms(
                "FATAL C48275, NOT RECOVERED/NOT RESOLVED C49494, RECOVERED/RESOLVED C49498, "
                "RECOVERED/RESOLVED WITH SEQUELAE C49495, RECOVERING/RESOLVING C49496, UNKNOWN C17998"
            ),
        ),
        Codelist(
            "NRIND", "Reference Range Indicator", "C78736", _terms("HIGH C78800, LOW C78801, NORMAL C78727")
        ),
        Codelist(
            "LBTESTCD",
            "Laboratory Test Code",
            "C65047",
            _terms(
                "ALT C64433, AST C64467, BILI C38037, CREAT C64547, HGB C64848, IGG C81971, "
                "LYM C51949, NEUT C63321, PLAT C51951, WBC C51948"
            ),
        ),
        Codelist(
            "LBTEST",
            "Laboratory Test Name",
            "C67154",
            (
                Term("Alanine Aminotransferase", "C64433"),
                Term("Aspartate Aminotransferase", "C64467"),
                Term("Bilirubin", "C38037"),
                Term("Creatinine", "C64547"),
                Term("Hemoglobin", "C64848"),
                Term("Immunoglobulin G", "C81971"),
                Term("Lymphocytes", "C51949"),
                Term("Neutrophils", "C63321"),
                Term("Platelets", "C51951"),
                Term("Leukocytes", "C51948"),
            ),
        ),
        Codelist(
            "UNIT",
            "Unit",
            "C71620",
            _terms(
                "10^9/L C67255, 10^6/L C67452, g/dL C64783, g/L C42576, mg/dL C67015, umol/L C48508, "
                "U/L C67456"
            ),
        ),
        Codelist(
            "PKUNIT",
            "PK Units of Measure",
            "C85494",
            _terms("copies/ug C126079, DNA copies/ug C170632, copies/uL C116237, day C25301, /day C25473"),
            extensible=True,
        ),
        Codelist(
            "PKPARMCD",
            "PK Parameters Code",
            "C85839",
            _terms(
                "CMAX C70918, TMAX C70919, TLST C85822, CLST C85655, AUCINT C85566, AUCLST C85565, "
                "LAMZ C85652, LAMZHL C85818, R2 C85542, R2ADJ C85553, LAMZNPT C85816, LAMZLL C85653, "
                "LAMZUL C85654, LAMZSPN C135492, AUCIFO C85761"
            ),
        ),
        Codelist(
            "PKPARM",
            "PK Parameters",
            "C85493",
            (
                Term("Max Conc", "C70918"),
                Term("Time of CMAX Observation", "C70919"),
                Term("Time of Last Nonzero Conc", "C85822"),
                Term("Last Nonzero Conc", "C85655"),
                Term("AUC from T1 to T2", "C85566"),
                Term("AUC to Last Nonzero Conc", "C85565"),
                Term("Lambda z", "C85652"),
                Term("Half-Life Lambda z", "C85818"),
                Term("R Squared", "C85542"),
                Term("R Squared Adjusted", "C85553"),
                Term("Number of Points for Lambda z", "C85816"),
                Term("Lambda z Lower Limit", "C85653"),
                Term("Lambda z Upper Limit", "C85654"),
                Term("Lambda z Span", "C135492"),
                Term("AUC Infinity Obs", "C85761"),
            ),
        ),
        Codelist("SPECTYPE", "Specimen Type", "C78734", _terms("BLOOD C12434")),
        Codelist("ND", "Not Done", "C66789", _terms("NOT DONE C49484")),
        Codelist(
            "AEREL",
            "Causality (sponsor)",
            None,
            tuple(
                Term(v)
                for v in (
                    "NOT RELATED",
                    "UNLIKELY RELATED",
                    "POSSIBLY RELATED",
                    "PROBABLY RELATED",
                    "DEFINITELY RELATED",
                )
            ),
        ),
        Codelist(CTCAE, "Common Terminology Criteria for Adverse Events", None, external=(CTCAE, "5.0")),
        Codelist(ASTCT, "ASTCT consensus grading of CRS and ICANS", None, external=(ASTCT, "2019")),
    )
}
"""The codelists of spec section 7 with their NCI codes (CDISC CT 2026-03-27)."""

CT_VERSION = "2026-03-27"
"""The CDISC/NCI SDTM controlled terminology the codes come from."""

CRS_TERM = "Cytokine release syndrome"
ICANS_TERM = "Immune effector cell-associated neurotoxicity syndrome"
ASTCT_TERMS = (CRS_TERM, ICANS_TERM)
"""The AEDECOD values graded on the ASTCT scale (all other AEs on CTCAE v5.0)."""
