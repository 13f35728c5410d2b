"""Prints one closing line "N passed, N failed" from JUnit XML files and
exits non-zero when anything failed or a result file is missing."""
import sys
import xml.etree.ElementTree as ET

passed = failed = 0
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        print("missing results: %s" % path)
        failed += 1
        continue
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            continue
        else:
            passed += 1
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
