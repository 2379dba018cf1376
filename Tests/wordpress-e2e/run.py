#!/usr/bin/env python3
"""Runs the WordPress end-to-end tests in their order; scripts/test-wordpress.sh
starts WordPress, the simulator and cloudchatd and exports the settings first.

    python3 Tests/wordpress-e2e/run.py [NAME ...]

NAME picks test modules, classes or methods (e.g. test_rest_security or
test_inbox.InboxTest). The order matters: the screens set the site up, the
inbox and campaign tests create the data the REST security sweep then uses
real ids of, and the last module checks the screenshots.
"""

import os
import sys
import unittest

ORDER = [
    "test_settings_templates",
    "test_retention",
    "test_inbox",
    "test_hostile_text",
    "test_access",
    "test_contacts_campaigns",
    "test_rest_security",
    "test_privacy_rights",
    "test_daemon_outage",
    "test_artifacts",
]


def main(names):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for name in names or ORDER:
        suite.addTests(loader.loadTestsFromName(name))
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    return 0 if result.wasSuccessful() and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
