"""`make package STAGE=dev|prod`: the CloudFormation template and deployment.zip in dist/<stage>/.

1. ``chalice package --pkg-format cloudformation --merge-template
   infra/template.json``: Chalice's functions, API and roles (with
   ``.chalice/policy-<stage>.json``), merged with our table, SNS topic, SES
   configuration set and log groups.
2. Slim ``deployment.zip``: Chalice bundles whole wheels; drop what Lambda
   never loads. Babel's locale data is 30 MB for ~1,000 locales and the
   service speaks Dutch and English; icalendar ships its own test suite;
   RECORD files list the wheels' files for pip, which Lambda never runs.

Needs AWS_DEFAULT_REGION (set to eu-west-1 when missing) and no credentials.
Usage: python scripts/package.py STAGE [OUTDIR]   (OUTDIR defaults to dist/STAGE)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = REPO / "infra" / "template.json"

# The locales chalicelib/i18n.py formats dates in (nl_BE, en_GB) and every
# locale Babel reads on the way up to root (en_GB -> en_001 -> en -> root).
KEEP_LOCALES = {"root", "nl", "nl_BE", "en", "en_001", "en_150", "en_GB", "en_BE"}


def keep(name: str) -> bool:
    """Whether a file of the deployment package is worth shipping to Lambda."""
    parts = name.split("/")
    if parts[0] == "babel" and len(parts) == 3 and parts[1] == "locale-data":
        return parts[2].removesuffix(".dat") in KEEP_LOCALES or not parts[2].endswith(".dat")
    if parts[0] == "icalendar" and len(parts) > 1 and parts[1] == "tests":
        return False
    if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "RECORD":
        return False
    if "__pycache__" in parts:
        return False
    return True


def slim(zip_path: Path) -> tuple[int, int]:
    """Rewrite ``zip_path`` without the files Lambda never loads; return sizes before and after."""
    before = zip_path.stat().st_size
    slimmed = zip_path.with_suffix(".slim.zip")
    with zipfile.ZipFile(zip_path) as source, \
            zipfile.ZipFile(slimmed, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if keep(info.filename):
                target.writestr(info, source.read(info), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    slimmed.replace(zip_path)
    return before, zip_path.stat().st_size


def package(stage: str, outdir: Path) -> Path:
    """Build ``outdir``/sam.json and deployment.zip for ``stage``; return ``outdir``."""
    if stage not in ("dev", "prod"):
        raise SystemExit(f"STAGE must be dev or prod, not {stage!r}")
    if outdir.exists():
        shutil.rmtree(outdir)
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    chalice = Path(sys.executable).parent / "chalice"
    subprocess.run(
        [str(chalice), "package", "--stage", stage, "--pkg-format", "cloudformation",
         "--merge-template", str(MERGE_TEMPLATE.relative_to(REPO)), str(outdir)],
        cwd=REPO, env=env, check=True,
    )
    before, after = slim(outdir / "deployment.zip")
    print(f"{outdir}/deployment.zip: {before / 1e6:.2f} MB -> {after / 1e6:.2f} MB")
    return outdir


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    package(sys.argv[1], Path(sys.argv[2]).resolve() if len(sys.argv) == 3 else REPO / "dist" / sys.argv[1])
