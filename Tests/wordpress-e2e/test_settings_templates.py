"""An administrator connects the site to cloudchatd and a business number, then
syncs the templates, all through the Settings and Templates screens."""

import unittest

from selenium.webdriver.common.by import By

import cloudchat_e2e as e2e


class SettingsAndTemplatesTest(e2e.BrowserTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.log_in_done = False

    def setUp(self):
        if not type(self).log_in_done:
            self.log_in("admin")
            type(self).log_in_done = True

    def type_into(self, selector, text):
        # Forms take input once their saved values are in.
        field = self.wait_for_css(selector, visible=True, enabled=True)
        field.clear()
        field.send_keys(text)

    def test_1_connect_daemon_and_number(self):
        s = self.settings
        self.open_admin_page("cloudchat-settings")
        self.type_into("#cloudchat-daemon-url", s.control_url)
        self.type_into("#cloudchat-control-secret", s.control_secret)
        self.driver.find_element(By.CSS_SELECTOR, "#cloudchat-settings-save").click()
        e2e.wait_until(
            lambda: e2e.sql_value("SELECT option_value FROM wp_options WHERE option_name = 'cloudchat_daemon_url'") == s.control_url,
            20, "saving the settings did not store cloudchat_daemon_url")
        saved = e2e.session("admin").rest("GET", "/cloudchat/v1/settings")
        self.assertEqual(saved.status, 200, saved)
        self.assertTrue(saved.json().get("control_secret_set"), f"the control secret was not saved: {saved!r}")

        self.driver.find_element(By.CSS_SELECTOR, "#cloudchat-test-connection").click()
        self.wait(lambda d: "is-success" in (d.find_element(By.ID, "cloudchat-test-result").get_attribute("class") or ""),
                  "Test connection did not succeed (#cloudchat-test-result never got the class is-success)", timeout=20)

        self.type_into("#cloudchat-waba-id", s.waba_id)
        self.type_into("#cloudchat-phone-number-id", s.phone_number_id)
        self.type_into("#cloudchat-access-token", s.access_token)
        self.type_into("#cloudchat-app-secret", s.app_secret)
        self.type_into("#cloudchat-label", "E2E number")
        self.driver.find_element(By.CSS_SELECTOR, "#cloudchat-credentials-save").click()

        def listed(driver):
            for row in driver.find_elements(By.CSS_SELECTOR, "#cloudchat-accounts tr.cloudchat-account"):
                digits = "".join(ch for ch in row.text if ch.isdigit())
                if s.display_number in digits or s.phone_number_id in digits or "E2E number" in row.text:
                    return row
            return None
        self.wait(listed, f"the number {s.display_number} is not listed in #cloudchat-accounts (tr.cloudchat-account)", timeout=30)
        self.assertTrue(
            e2e.sql_value(f"SELECT id FROM wp_cloudchat_accounts WHERE phone_number_id = {e2e.quote(s.phone_number_id)}"),
            "the number is listed but has no wp_cloudchat_accounts row")
        self.screenshot("settings")

    def test_2_credentials_are_not_stored_in_clear(self):
        e2e.ensure_site_configured()   # the number's credentials are stored
        dump = e2e.database_dump()
        self.assertIn(b"wp_cloudchat_accounts", dump, "the dump has no CloudChat tables")
        self.assertNotIn(self.settings.access_token.encode(), dump, "the access token is stored in clear in the database")
        self.assertNotIn(self.settings.app_secret.encode(), dump, "the app secret is stored in clear in the database")

    def test_3_sync_templates(self):
        e2e.ensure_site_configured()
        self.open_admin_page("cloudchat-templates")
        self.wait_for_css("#cloudchat-templates-sync", visible=True).click()

        def hello_world(driver):
            for row in driver.find_elements(By.CSS_SELECTOR, "tr.cloudchat-template"):
                if "hello_world" in row.text and "APPROVED" in row.text.upper():
                    return row
            return None
        self.wait(hello_world, "no row tr.cloudchat-template shows hello_world as APPROVED after the sync", timeout=30)

        def listed(driver):
            return " ".join(row.text for row in driver.find_elements(By.CSS_SELECTOR, "tr.cloudchat-template"))
        for name in ("order_update", "spring_sale", "new_arrivals"):
            self.wait(lambda d, n=name: n in listed(d), f"the simulator's sample template {name} is not listed", timeout=5)
        self.screenshot("templates")


if __name__ == "__main__":
    unittest.main()
