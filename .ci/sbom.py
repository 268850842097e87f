#!/usr/bin/env python3
"""Writes a CycloneDX 1.5 SBOM (JSON) of the crates compiled into the relay binary.

The set of crates is cargo's own answer for the release build (`cargo tree -p relay -e normal
--target <target>`, features resolved as that build resolves them, build scripts and
dev-dependencies left out); names, versions, licences, sources and repositories come from
`cargo metadata`, and each registry crate's SHA-256 from Cargo.lock. The binary itself also
carries its dependency list (cargo-auditable), which `cargo audit bin` and SBOM scanners read.

usage: sbom.py --target x86_64-unknown-linux-musl --binary PATH --version 0.1.0 --commit SHA > out.json
"""

import argparse
import hashlib
import json
import subprocess
import sys
import tomllib
import uuid
from datetime import datetime, timezone
from pathlib import Path


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--root", default=".")
    args = parser.parse_args()
    root = Path(args.root)

    built = set()
    for line in run(
        "cargo", "tree", "--locked", "-p", "relay", "-e", "normal", "--target", args.target,
        "--prefix", "none", "--no-dedupe", "-f", "{p}",
        "--manifest-path", str(root / "Cargo.toml"),
    ).splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("v"):
            built.add((parts[0], parts[1][1:]))

    metadata = json.loads(run(
        "cargo", "metadata", "--locked", "--format-version", "1",
        "--manifest-path", str(root / "Cargo.toml"),
    ))
    lock = tomllib.loads((root / "Cargo.lock").read_text())
    checksums = {
        (package["name"], package["version"]): package.get("checksum")
        for package in lock.get("package", [])
    }

    components = []
    refs = {}
    for package in sorted(metadata["packages"], key=lambda p: (p["name"], p["version"])):
        key = (package["name"], package["version"])
        if key not in built or package["name"] == "relay":
            continue
        purl = f"pkg:cargo/{package['name']}@{package['version']}"
        local = package.get("source") is None
        component = {
            "type": "library",
            "bom-ref": purl,
            "name": package["name"],
            "version": package["version"],
            "purl": purl,
            "scope": "required",
        }
        if package.get("license"):
            component["licenses"] = [{"expression": package["license"]}]
        if package.get("description"):
            component["description"] = " ".join(package["description"].split())
        checksum = checksums.get(key)
        if checksum:
            component["hashes"] = [{"alg": "SHA-256", "content": checksum}]
        references = []
        if package.get("repository"):
            references.append({"type": "vcs", "url": package["repository"]})
        if not local:
            references.append({
                "type": "distribution",
                "url": f"https://crates.io/crates/{package['name']}/{package['version']}",
            })
        if references:
            component["externalReferences"] = references
        components.append(component)
        refs[package["id"]] = purl

    relay = next(p for p in metadata["packages"] if p["name"] == "relay")
    refs[relay["id"]] = "sealpost-relay"
    dependencies = []
    for node in metadata["resolve"]["nodes"]:
        if node["id"] not in refs:
            continue
        on = sorted({
            refs[dep["pkg"]]
            for dep in node["deps"]
            if dep["pkg"] in refs
            and any(kind["kind"] is None for kind in dep["dep_kinds"])
        })
        dependencies.append({"ref": refs[node["id"]], "dependsOn": on})

    digest = hashlib.sha256(Path(args.binary).read_bytes()).hexdigest()
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'sealpost-relay/' + digest)}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "tools": {"components": [{"type": "application", "name": ".ci/sbom.py (Sealpost)"}]},
            "component": {
                "type": "application",
                "bom-ref": "sealpost-relay",
                "name": "sealpost-relay",
                "version": args.version,
                "licenses": [{"expression": relay.get("license") or "AGPL-3.0-only"}],
                "hashes": [{"alg": "SHA-256", "content": digest}],
                "properties": [
                    {"name": "sealpost:commit", "value": args.commit},
                    {"name": "sealpost:target", "value": args.target},
                ],
            },
        },
        "components": components,
        "dependencies": dependencies,
    }
    missing = built - {(c["name"], c["version"]) for c in components} - {("relay", relay["version"]), ("shared", relay["version"])}
    if missing:
        print(f"error: crates built but not described: {sorted(missing)}", file=sys.stderr)
        sys.exit(1)
    json.dump(bom, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
