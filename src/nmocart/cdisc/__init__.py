"""CDISC SDTM exports (issue 10): XPT v5, Dataset-JSON 1.1 and Define-XML 2.1 of TI, IE, DM, AE, LB, PC, PP.

:func:`nmocart.cdisc.export.export_study` is the entry point both the CLI and the web app call.
"""
