"""What the run leaves behind: a screenshot of every CloudChat screen, and no
PHP error from the plugin in WordPress's debug log."""

import os
import re
import unittest

import cloudchat_e2e as e2e

SCREENS = ["inbox", "contacts", "templates", "campaigns", "settings"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ArtifactsTest(unittest.TestCase):

    def test_a_screenshot_of_every_screen(self):
        artifacts = e2e.settings().artifacts
        for screen in SCREENS:
            with self.subTest(screen=screen):
                path = os.path.join(artifacts, screen + ".png")
                self.assertTrue(os.path.isfile(path), f"no screenshot of the {screen} screen at {path}")
                with open(path, "rb") as image:
                    head = image.read(len(PNG_SIGNATURE))
                self.assertEqual(head, PNG_SIGNATURE, f"{path} is not a PNG")
                self.assertGreater(os.path.getsize(path), 10_000, f"{path} is suspiciously small")

    def test_no_php_errors_from_the_plugin(self):
        path = e2e.settings().debug_log
        if not os.path.exists(path):
            return
        plugin = re.compile(r"(plugin-bridge|plugins/cloudchat)/")
        serious = re.compile(r"PHP (Fatal error|Parse error|Warning|Notice|Deprecated|Recoverable fatal error)")
        with open(path, encoding="utf-8", errors="replace") as log:
            lines = [line.rstrip() for line in log if serious.search(line) and plugin.search(line)]
        self.assertFalse(lines, f"PHP reported problems in the plugin ({path}):\n  " + "\n  ".join(lines[:20]))


if __name__ == "__main__":
    unittest.main()
