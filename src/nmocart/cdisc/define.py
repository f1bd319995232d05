"""Define-XML 2.1 describing the seven datasets (CDISC spec section 3), built with lxml.

One ItemGroupDef per dataset, one ItemDef per column, the codelists of spec section 7 with their
NCI codes, the grading scales as external codelists (CTCAE 5.0 for LBTOXGR; ASTCT 2019 or
CTCAE 5.0 for AETOXGR by a value list on AEDECOD), and comments for what the data cannot say
itself (full criterion texts, uncoded AEDECOD, standard ranges, the concentrations PP used).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lxml import etree

import nmocart
from nmocart.cdisc.dataset_json import column_lengths, item_oid, metadata_version_oid
from nmocart.cdisc.domains import Dataset
from nmocart.cdisc.metadata import (
    ASTCT,
    ASTCT_TERMS,
    CODELISTS,
    CT_VERSION,
    CTCAE,
    Codelist,
    Term,
    Variable,
)

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
DEF_NS = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
NSMAP = {None: ODM_NS, "def": DEF_NS, "xlink": XLINK_NS}

STD_IG = "STD.SDTMIG.3.4"
STD_CT = f"STD.CT.SDTM.{CT_VERSION}"
DEFINE_DATATYPE = {"string": "text", "integer": "integer", "float": "float", "date": "date"}

COMMENTS = {
    "COM.AEDECOD": (
        "Not coded to MedDRA: AEDECOD is the ASTCT syndrome term for CRS and ICANS and otherwise the "
        "reported term unchanged (nmocart v1 does not code adverse events)."
    ),
    "COM.LBNRIND": "LBNRIND refers to the standard reference range (LBSTNRLO, LBSTNRHI).",
    "COM.PP": (
        "Each parameter was computed by nmocart's NCA engine (linear-up/log-down) from all PC records "
        "of the same USUBJID and PCGRPID, under the kinetics specification's conventions (section 2): "
        "BLQ before the first measurable sample as 0, between measurable samples dropped, after the "
        "last as 0; pre-infusion samples (time < 0) not used."
    ),
}


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _el(parent: etree._Element, name: str, ns: str = ODM_NS, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, _q(ns, name))
    for key, value in attrs.items():
        element.set(key, value)
    return element


def _description(parent: etree._Element, text: str) -> None:
    desc = _el(parent, "Description")
    tt = _el(desc, "TranslatedText")
    tt.set(_q(XML_NS, "lang"), "en")
    tt.text = text


def _alias(parent: etree._Element, code: str) -> None:
    _el(parent, "Alias", Context="nci:ExtCodeID", Name=code)


def pk_extensions(datasets: Sequence[Dataset]) -> list[str]:
    """The PKUNIT values the data uses that CDISC does not define (declared extensions)."""
    used: set[str] = set()
    for ds in datasets:
        for var in ds.meta.variables:
            if var.codelist == "PKUNIT":
                used.update(v for v in ds.column(var.name) if isinstance(v, str))
    pk = CODELISTS["PKUNIT"]
    return sorted(v for v in used if pk.term(v) is None)


def _codelist(mdv: etree._Element, cl: Codelist, extensions: Iterable[str] = ()) -> None:
    attrs = {"OID": cl.oid, "Name": cl.name, "DataType": "text"}
    element = _el(mdv, "CodeList", **attrs)
    if cl.code is not None:
        element.set(_q(DEF_NS, "StandardOID"), STD_CT)
    elif cl.external is None:
        element.set(_q(DEF_NS, "IsNonStandard"), "Yes")
    if cl.external is not None:
        _el(element, "ExternalCodeList", Dictionary=cl.external[0], Version=cl.external[1])
        return
    terms: list[tuple[Term, bool]] = [(t, False) for t in cl.terms]
    terms += [(Term(v), True) for v in extensions]
    for order, (term, extended) in enumerate(terms, start=1):
        item = _el(element, "EnumeratedItem", CodedValue=term.value, OrderNumber=str(order))
        if extended:
            item.set(_q(DEF_NS, "ExtendedValue"), "Yes")
        if term.code is not None:
            _alias(item, term.code)
    if cl.code is not None:
        _alias(element, cl.code)


def _comment(mdv: etree._Element, oid: str, text: str) -> None:
    comment = _el(mdv, "CommentDef", DEF_NS, OID=oid)
    _description(comment, text)


def _item_def(
    mdv: etree._Element, oid: str, var: Variable, length: int | None, description: str, codelist: str | None
) -> etree._Element:
    item = _el(mdv, "ItemDef", OID=oid, Name=var.name, SASFieldName=var.name)
    item.set("DataType", DEFINE_DATATYPE[var.data_type])
    if var.numeric:
        item.set("Length", "8")
    elif length is not None:
        item.set("Length", str(length))
    _description(item, description)
    if codelist is not None:
        _el(item, "CodeListRef", CodeListOID=CODELISTS[codelist].oid)
    return item


def build_define(
    datasets: Sequence[Dataset], studyid: str, protocol_name: str, created: str, shortened: dict[str, str]
) -> etree._Element:
    """The Define-XML 2.1 ODM element of the export."""
    odm = etree.Element(_q(ODM_NS, "ODM"), nsmap=NSMAP)
    odm.set("FileType", "Snapshot")
    odm.set("FileOID", f"{studyid}.DEFINE")
    odm.set("ODMVersion", "1.3.2")
    odm.set("CreationDateTime", created)
    odm.set("Originator", "nmocart")
    odm.set("SourceSystem", "nmocart")
    odm.set("SourceSystemVersion", nmocart.__version__)
    odm.set(_q(DEF_NS, "Context"), "Submission")
    study = _el(odm, "Study", OID=studyid)
    gv = _el(study, "GlobalVariables")
    _el(gv, "StudyName").text = studyid
    _el(gv, "StudyDescription").text = protocol_name or studyid
    _el(gv, "ProtocolName").text = studyid
    mdv = _el(study, "MetaDataVersion", OID=metadata_version_oid(studyid))
    mdv.set("Name", f"{studyid} SDTM tabulations")
    mdv.set("Description", "SDTMIG 3.4 tabulations written by nmocart")
    mdv.set(_q(DEF_NS, "DefineVersion"), "2.1.0")
    standards = _el(mdv, "Standards", DEF_NS)
    _el(standards, "Standard", DEF_NS, OID=STD_IG, Name="SDTMIG", Type="IG", Version="3.4", Status="Final")
    _el(
        standards,
        "Standard",
        DEF_NS,
        OID=STD_CT,
        Name="CDISC/NCI",
        Type="CT",
        PublishingSet="SDTM",
        Version=CT_VERSION,
        Status="Final",
    )
    # AETOXGR: ASTCT for CRS/ICANS, CTCAE otherwise (value list on AEDECOD)
    vl = _el(mdv, "ValueListDef", DEF_NS, OID="VL.AE.AETOXGR")
    for order, scale in enumerate((ASTCT, CTCAE), start=1):
        ref = _el(vl, "ItemRef", ItemOID=f"IT.AE.AETOXGR.{scale}", OrderNumber=str(order), Mandatory="No")
        _el(ref, "WhereClauseRef", DEF_NS, WhereClauseOID=f"WC.AE.AETOXGR.{scale}")
    for scale, comparator in ((ASTCT, "IN"), (CTCAE, "NOTIN")):
        wc = _el(mdv, "WhereClauseDef", DEF_NS, OID=f"WC.AE.AETOXGR.{scale}")
        check = _el(wc, "RangeCheck", SoftHard="Soft", Comparator=comparator)
        check.set(_q(DEF_NS, "ItemOID"), "IT.AE.AEDECOD")
        for term in ASTCT_TERMS:
            _el(check, "CheckValue").text = term
    for ds in datasets:
        meta = ds.meta
        ig = _el(mdv, "ItemGroupDef", OID=f"IG.{meta.name}", Domain=meta.name, Name=meta.name)
        ig.set("Repeating", "No" if meta.name == "DM" else "Yes")
        ig.set("IsReferenceData", "Yes" if meta.name == "TI" else "No")
        ig.set("SASDatasetName", meta.name)
        ig.set("Purpose", "Tabulation")
        ig.set(_q(DEF_NS, "Structure"), meta.structure)
        ig.set(_q(DEF_NS, "StandardOID"), STD_IG)
        ig.set(_q(DEF_NS, "ArchiveLocationID"), f"LF.{meta.name}")
        if meta.name == "TI" and shortened:
            ig.set(_q(DEF_NS, "CommentOID"), "COM.TI")
        if meta.name == "PP":
            ig.set(_q(DEF_NS, "CommentOID"), "COM.PP")
        _description(ig, meta.label)
        for order, var in enumerate(meta.variables, start=1):
            key = meta.key_sequence(var.name)
            ref = _el(ig, "ItemRef", ItemOID=item_oid(meta, var), OrderNumber=str(order))
            ref.set("Mandatory", "Yes" if key is not None or var.name == "DOMAIN" else "No")
            if key is not None:
                ref.set("KeySequence", str(key))
        _el(ig, "Class", DEF_NS, Name=meta.sdtm_class)
        leaf = _el(ig, "leaf", DEF_NS, ID=f"LF.{meta.name}")
        leaf.set(_q(XLINK_NS, "href"), f"xpt/{meta.name.lower()}.xpt")
        _el(leaf, "title", DEF_NS).text = f"{meta.name.lower()}.xpt"
    value_items: list[tuple[str, Variable, str]] = []
    for ds in datasets:
        meta = ds.meta
        lengths = column_lengths(ds)
        for var in meta.variables:
            item = _item_def(mdv, item_oid(meta, var), var, lengths[var.name], var.label, var.codelist)
            if var.name in ("AEDECOD", "LBNRIND"):
                item.set(_q(DEF_NS, "CommentOID"), f"COM.{var.name}")
            if meta.name == "AE" and var.name == "AETOXGR":
                _el(item, "ValueListRef", DEF_NS, ValueListOID="VL.AE.AETOXGR")
                for scale in (ASTCT, CTCAE):
                    value_items.append((f"IT.AE.AETOXGR.{scale}", var, scale))
    ae = next(ds for ds in datasets if ds.meta.name == "AE")
    ae_length = column_lengths(ae)["AETOXGR"]
    for oid, var, scale in value_items:
        _item_def(mdv, oid, var, ae_length, f"{var.label} ({scale})", scale)
    extensions = pk_extensions(datasets)
    for cl in CODELISTS.values():
        _codelist(mdv, cl, extensions if cl.key == "PKUNIT" else ())
    comments = dict(COMMENTS)
    if shortened:
        comments["COM.TI"] = (
            "Full text of shortened criteria (IETEST holds the meaningful text): "
            + " | ".join(f"{code}: {text}" for code, text in shortened.items())
        )
    for oid in sorted(comments):
        _comment(mdv, oid, comments[oid])
    return odm


def dumps(odm: etree._Element) -> bytes:
    """The define.xml bytes: UTF-8 with declaration, indented, deterministic."""
    return bytes(etree.tostring(odm, xml_declaration=True, encoding="UTF-8", pretty_print=True))
