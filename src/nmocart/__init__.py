"""nmocart: the CD19 CAR-T NMOSD phase I protocol (NCT05828212) made executable."""

from pathlib import Path

__version__ = "0.1.0"


def refuse_stale_compiled_core(here: Path) -> None:
    """Never let a compiled module older than its source shadow edited code.

    The screening core is compiled with mypyc at install time (``setup.py``); in an
    editable install the extension sits beside its ``.py`` and would win the import.
    """
    for extension in sorted(here.rglob("*.so")):
        source = extension.parent / (extension.name.split(".", 1)[0] + ".py")
        if source.exists() and source.stat().st_mtime > extension.stat().st_mtime:
            raise ImportError(
                f"{extension.name} is older than {source.name}: the compiled screening core is stale; "
                "reinstall (./scripts/test does) or set NMOCART_PURE_PYTHON=1 and reinstall"
            )


refuse_stale_compiled_core(Path(__file__).parent)
