"""Runs every examples/python/*.py script with a temporary output folder and
checks it succeeded with output; a script whose last line names a .png must
have written a real PNG picture there."""
import glob
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
scripts = sorted(glob.glob(os.path.join(here, "..", "..", "examples", "python", "*.py")))
assert scripts, "no example scripts found"
with tempfile.TemporaryDirectory() as out:
    for script in scripts:
        res = subprocess.run([sys.executable, script, out], capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"{os.path.basename(script)} failed:\n{res.stderr}")
        lines = res.stdout.strip().splitlines()
        if not lines:
            sys.exit(f"{os.path.basename(script)} printed nothing")
        png = lines[-1]
        if not png.endswith(".png"):
            print(f"{os.path.basename(script)}: {len(res.stdout)} bytes of output")
            continue
        with open(png, "rb") as f:
            head = f.read(8)
        if head != b"\x89PNG\r\n\x1a\n" or os.path.getsize(png) < 1000:
            sys.exit(f"{os.path.basename(script)}: {png} is not a PNG picture")
        print(f"{os.path.basename(script)}: {png} ({os.path.getsize(png)} bytes)")
