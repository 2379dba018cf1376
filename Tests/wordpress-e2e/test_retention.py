"""The site owner sets how long CloudChat keeps each kind of data on the
Settings screen; the values land in the cloudchat_retention option as JSON,
and the REST route refuses what cloudchatd could not use."""

import json
import unittest

from selenium.webdriver.common.by import By

import cloudchat_e2e as e2e

ROUTE = "/cloudchat/v1/settings/retention"


def stored_retention():
    value = e2e.sql_value("SELECT option_value FROM wp_options WHERE option_name = 'cloudchat_retention'")
    return None if value is None else json.loads(value)


class RetentionSettingsTest(e2e.BrowserTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = e2e.session("admin")
        cls.original = e2e.sql_value("SELECT option_value FROM wp_options WHERE option_name = 'cloudchat_retention'")

    @classmethod
    def tearDownClass(cls):
        # Leave the option as it was found.
        restored = json.loads(cls.original) if cls.original else {}
        cls.admin.rest("POST", ROUTE, body=restored)
        super().tearDownClass()

    def field(self, key):
        return self.wait_for_css(f"#cloudchat-retention-{key}", visible=True, enabled=True)

    def test_1_the_screen_saves_retention(self):
        self.log_in("admin")
        self.open_admin_page("cloudchat-settings")
        self.wait_for_css("#cloudchat-retention-save", visible=True, enabled=True)
        messages = self.field("messages_days")
        self.assertEqual(messages.get_attribute("placeholder"), "365", "the default is not shown in the messages field")
        for key in ("webhook_events_days", "status_events_days", "outbox_days", "campaign_recipients_days"):
            self.field(key).clear()
        messages.clear()
        messages.send_keys("180")
        audit = self.field("audit_log_days")
        audit.clear()
        audit.send_keys("0")
        self.driver.find_element(By.CSS_SELECTOR, "#cloudchat-retention-save").click()
        e2e.wait_until(lambda: stored_retention() == {"messages_days": 180, "audit_log_days": 0}, 20,
                       f"saving the retention did not store it as JSON in cloudchat_retention (it holds {stored_retention()!r})")
        self.wait(lambda d: "Retention saved" in d.find_element(By.ID, "cloudchat-retention").text,
                  "the Retention section did not say it was saved")
        self.screenshot("settings-retention")

        # A value the daemon could not use is refused on the screen, and nothing changes.
        messages = self.field("messages_days")
        messages.clear()
        messages.send_keys("5000")
        self.driver.find_element(By.CSS_SELECTOR, "#cloudchat-retention-save").click()
        self.wait(lambda d: "from 1 to 3650" in d.find_element(By.ID, "cloudchat-retention").text,
                  "the Retention section did not explain what values are allowed")
        self.assertEqual(stored_retention(), {"messages_days": 180, "audit_log_days": 0})

        answer = self.admin.rest("GET", ROUTE)
        self.assertEqual(answer.status, 200, answer)
        days = {item["key"]: item["days"] for item in answer.json()["retention"]}
        self.assertEqual(days["messages_days"], 180)
        self.assertEqual(days["audit_log_days"], 0)
        self.assertIsNone(days["webhook_events_days"])

    def test_2_the_route_refuses_bad_input(self):
        before = stored_retention()
        for body in ({"messages_days": 99999}, {"messages_days": -1}, {"outbox_days": "soon"}, {"audit_log_days": 2.5}):
            answer = self.admin.rest("POST", ROUTE, body=body)
            self.assertEqual(answer.status, 400, f"{body}: {answer!r}")
            params = answer.json().get("data", {}).get("params", {})
            message = " ".join(params.values())
            self.assertIn("whole number of days from 1 to 3650", message, f"{body}: the refusal does not say what is allowed: {answer!r}")
        self.assertEqual(stored_retention(), before, "a refused request changed the stored retention")
        agent = e2e.session("agent").rest("POST", ROUTE, body={"messages_days": 30})
        self.assertEqual(agent.status, 403, agent)
        self.assertEqual(stored_retention(), before)
        # Every class left out goes back to its default: the option goes.
        cleared = self.admin.rest("POST", ROUTE, body={})
        self.assertEqual(cleared.status, 200, cleared)
        self.assertIsNone(stored_retention())


if __name__ == "__main__":
    unittest.main()
