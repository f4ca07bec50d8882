#!/usr/bin/env python3
"""Write one copy of template.yaml per TriggerMode, with that mode as the default, so tools that
evaluate conditions with the default parameter values (checkov) check every mode's resources.

    trigger_modes.py OUTDIR     writes OUTDIR/<mode>.yaml for S3Notification, EventBridge, SQS
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = {"S3Notification": '""', "EventBridge": "existing-labels-bucket", "SQS": '""'}


def with_default(text, parameter, value):
    """Replaces the Default line of one top-level parameter (text edit: keeps the ! tags)."""
    pattern = re.compile(rf"(^  {parameter}:\n(?:    .*\n)*?    Default: ).*$", re.M)
    text, count = pattern.subn(lambda m: m.group(1) + value, text)
    if count != 1:
        raise SystemExit(f"template.yaml: no Default line for parameter {parameter}")
    return text


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    template = (ROOT / "template.yaml").read_text()
    for mode, bucket in MODES.items():
        text = with_default(with_default(template, "TriggerMode", mode), "ExistingBucketName", bucket)
        (out / f"{mode}.yaml").write_text(text)
        print(f"{out / mode}.yaml")


if __name__ == "__main__":
    main()
