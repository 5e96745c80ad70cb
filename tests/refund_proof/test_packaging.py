import glob
import os
import subprocess
import sys
import sysconfig
import tempfile
from unittest import TestCase

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

CHECK = """
import odoo
from odoo.modules.module import get_manifest, get_module_path
path = get_module_path("refund_proof", display_warning=False)
print(path)
print(get_manifest("refund_proof")["version"])
"""


class TestPackaging(TestCase):
    def test_wheel_installs_into_a_fresh_odoo_venv_and_odoo_finds_it(self):
        """`make dist` builds a wheel a fresh Odoo 18 venv installs and Odoo finds."""
        subprocess.run(
            ["bash", os.path.join(REPO, "scripts", "dist.sh")],
            check=True,
            capture_output=True,
        )
        wheels = glob.glob(
            os.path.join(REPO, "dist", "odoo_addon_refund_proof-18.0.*.whl")
        )
        self.assertEqual(len(wheels), 1)
        import odoo

        odoo_src = os.path.dirname(os.path.dirname(odoo.__file__))
        with tempfile.TemporaryDirectory() as tmp:
            venv = os.path.join(tmp, "venv")
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            python = os.path.join(venv, "bin", "python")
            site = subprocess.run(
                [
                    python,
                    "-c",
                    "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            # An Odoo 18 venv: Odoo's source and its dependencies, no refund_proof.
            with open(os.path.join(site, "odoo18.pth"), "w") as f:
                f.write(f"{odoo_src}\n{sysconfig.get_paths()['purelib']}\n")
            subprocess.run(
                [
                    python,
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--no-deps",
                    "--no-index",
                    wheels[0],
                ],
                check=True,
                capture_output=True,
            )
            out = subprocess.run(
                [python, "-c", CHECK],
                check=True,
                capture_output=True,
                text=True,
                cwd=tmp,
            ).stdout.split()
        self.assertEqual(out[0], os.path.join(site, "odoo", "addons", "refund_proof"))
        self.assertEqual(out[1], "18.0.1.3.0")
