"""Refresh the vendored test data from a `shared/` reference folder beside the repository.

The tests read only `tests/data/`; this script is how that data is brought up to date when the
reference folder (seed guides and public CRD schemas) is at hand:

    python3 tests/data/refresh.py [--shared ../shared]

Seeds: the YAML blocks of the original workflow guide (config file, EnvironmentProvisioner,
HelmRelease) are written as files. Schemas: the public CRDs are copied byte for byte with their
SOURCES.txt (source, version, sha256, licence); `tests/test_vendored_data.py` checks the checksums.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent
DEFAULT_SHARED = DATA.parents[2] / "shared"

SEED_GUIDE = "workflow-guide.md"
SEED_FILES = ("tronador.yaml", "environment-provisioner.yaml", "helm-release.yaml")
SCHEMA_SETS = ("flux", "tekton", "prometheus-operator")


def seed_blocks(guide_text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", guide_text, re.S)


def refresh(shared: Path) -> list[Path]:
    written: list[Path] = []
    blocks = seed_blocks((shared / "seeds" / SEED_GUIDE).read_text(encoding="utf-8"))
    seeds = DATA / "seeds"
    seeds.mkdir(exist_ok=True)
    for name, block in zip(SEED_FILES, blocks, strict=False):
        (seeds / name).write_text(block, encoding="utf-8")
        written.append(seeds / name)
    for schema_set in SCHEMA_SETS:
        source = shared / "schemas" / schema_set
        target = DATA / "schemas" / schema_set
        target.mkdir(parents=True, exist_ok=True)
        for file in sorted(source.iterdir()):
            shutil.copyfile(file, target / file.name)
            written.append(target / file.name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = parser.parse_args(argv)
    if not (args.shared / "seeds").is_dir():
        print(f"refresh: no reference folder at {args.shared}", file=sys.stderr)
        return 2
    for path in refresh(args.shared):
        print(path.relative_to(DATA))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
