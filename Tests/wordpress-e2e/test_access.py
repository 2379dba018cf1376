"""WordPress refuses CloudChat's screens to users without the capability: every
screen to a subscriber, the managers' screens to an agent."""

import unittest

from selenium.webdriver.common.by import By

import cloudchat_e2e as e2e

REFUSAL = "Sorry, you are not allowed to access this page."
ALL_PAGES = ["cloudchat", "cloudchat-contacts", "cloudchat-templates", "cloudchat-campaigns", "cloudchat-settings"]
MANAGER_PAGES = ["cloudchat-templates", "cloudchat-campaigns", "cloudchat-settings"]
AGENT_PAGES = ["cloudchat", "cloudchat-contacts"]


class AccessTest(e2e.BrowserTestCase):

    def assert_refused(self, page, role):
        self.open_admin_page(page)
        body = self.wait_for_css("body")
        self.wait(lambda d: REFUSAL in body.text, f"{role} is not refused page={page} (no {REFUSAL!r})", timeout=10)
        self.assertFalse(self.driver.find_elements(By.ID, "cloudchat-app"), f"page={page} rendered CloudChat's screen for {role}")

    def test_subscriber_is_refused_every_screen(self):
        self.log_in("subscriber")
        for page in ALL_PAGES:
            with self.subTest(page=page):
                self.assert_refused(page, "subscriber")
        self.driver.get(self.settings.site_url + "/wp-admin/")
        self.wait_for_css("#adminmenu")
        self.assertFalse(self.driver.find_elements(By.CSS_SELECTOR, "#toplevel_page_cloudchat"),
                         "a subscriber sees the CloudChat menu")

    def test_agent_sees_inbox_and_contacts_only(self):
        self.log_in("agent")
        for page in MANAGER_PAGES:
            with self.subTest(page=page):
                self.assert_refused(page, "agent")
        for page in AGENT_PAGES:
            with self.subTest(page=page):
                self.open_admin_page(page)
                self.wait_for_css("#cloudchat-app")
                self.assertNotIn(REFUSAL, self.driver.find_element(By.TAG_NAME, "body").text)


if __name__ == "__main__":
    unittest.main()
