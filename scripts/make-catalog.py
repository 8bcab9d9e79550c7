#!/usr/bin/python3
"""Builds data/catalog/ (the planner's product catalog) from the cited reference data.

Usage: scripts/make-catalog.py [--src ../shared/data/catalog] [--out data/catalog] [--date YYYY-MM-DD]

Inputs (see data/catalog/SOURCES.md): aws_vms.csv (SkyPilot AWS catalog snapshot), spot_advisor.csv
(AWS Spot Instance Advisor bands), gpu_specs.csv (per-device specs), serverless_pricing.md (Lambda
prices, copied into serverless.csv as numbers). Standard library only. Deterministic output:
every (type, region, zone) row is kept, in source order; only the columns the planner needs.
"""
import argparse
import ast
import csv
import datetime
import hashlib
import os
import sys

OFFERING_COLUMNS = [
    "instance_type", "region", "zone", "arch", "vcpus", "memory_gib", "accelerator",
    "accelerator_count", "accelerator_memory_gib", "ondemand_usd_per_hour",
    "spot_usd_per_hour", "interruption_band",
]
GPU_COLUMNS = ["gpu", "memory_gib", "mem_bw_gbps", "fp32_tflops", "bf16_tflops", "fp16_tflops"]

# Lambda facts from serverless_pricing.md (x86_64 and arm64 first tier, US East; request price;
# limits). Kept as numbers so the C++ loader needs no Markdown parsing.
SERVERLESS = [
    ("lambda_x86_usd_per_gb_second", "0.0000166667"),
    ("lambda_arm_usd_per_gb_second", "0.0000133334"),
    ("lambda_usd_per_million_requests", "0.20"),
    ("lambda_memory_mb_min", "128"),
    ("lambda_memory_mb_max", "10240"),
    ("lambda_mb_per_vcpu", "1769"),
    ("lambda_max_timeout_seconds", "900"),
    ("spot_notice_seconds", "120"),
]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def device_memory_gib(gpu_info):
    """Per-device memory from the GpuInfo literal (MemoryInfo.SizeInMiB / 1024), or ''."""
    if not gpu_info:
        return ""
    info = ast.literal_eval(gpu_info)
    gpus = info.get("Gpus") or []
    if not gpus or "MemoryInfo" not in gpus[0]:
        return ""
    return "%.4g" % (gpus[0]["MemoryInfo"]["SizeInMiB"] / 1024.0)


def main():
    parser = argparse.ArgumentParser()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--src", default=os.path.join(root, "..", "shared", "data", "catalog"))
    parser.add_argument("--out", default=os.path.join(root, "data", "catalog"))
    parser.add_argument("--date", default=datetime.date.today().isoformat(),
                        help="catalog_date written to manifest.txt (default: today, UTC)")
    args = parser.parse_args()

    bands = {}
    with open(os.path.join(args.src, "spot_advisor.csv"), newline="") as f:
        for row in csv.DictReader(f):
            bands[(row["region"], row["instance_type"])] = row["interruption_band"]

    rows = 0
    with open(os.path.join(args.src, "aws_vms.csv"), newline="") as f, \
         open(os.path.join(args.out, "offerings.csv"), "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(OFFERING_COLUMNS)
        for row in csv.DictReader(f):
            accel = row["AcceleratorName"]
            if not accel and row["GpuInfo"]:
                accel = ast.literal_eval(row["GpuInfo"])["Gpus"][0].get("Name", "")
            writer.writerow([
                row["InstanceType"], row["Region"], row["AvailabilityZone"], row["Arch"],
                row["vCPUs"], row["MemoryGiB"], accel, row["AcceleratorCount"],
                device_memory_gib(row["GpuInfo"]), row["Price"], row["SpotPrice"],
                bands.get((row["Region"], row["InstanceType"]), ""),
            ])
            rows += 1

    with open(os.path.join(args.src, "gpu_specs.csv"), newline="") as f, \
         open(os.path.join(args.out, "gpu_specs.csv"), "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(GPU_COLUMNS)
        for row in csv.DictReader(f):
            writer.writerow([row[c] for c in GPU_COLUMNS])

    with open(os.path.join(args.out, "serverless.csv"), "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["key", "value"])
        writer.writerows(SERVERLESS)

    with open(os.path.join(args.out, "manifest.txt"), "w") as out:
        out.write("format=1\n")
        out.write("catalog_date=%s\n" % args.date)
        out.write("spot_advisor_date=2025-06-28\n")
        out.write("offering_rows=%d\n" % rows)
        for name in ("aws_vms.csv", "spot_advisor.csv", "gpu_specs.csv", "serverless_pricing.md"):
            out.write("source_sha256.%s=%s\n" % (name, sha256(os.path.join(args.src, name))))
    print("wrote %d offerings to %s" % (rows, args.out), file=sys.stderr)


if __name__ == "__main__":
    main()
